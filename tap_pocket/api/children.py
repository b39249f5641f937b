"""How the API ``items`` stream hands highlights and links to its children, in batches.

Each ``/v3/get`` page carries the highlights of its items (``annotations=1``), and the
``pages`` stream wants the items' links. A child context per page meant a child sync,
four SDK log lines and a flush per 30 items at the default page_size, which Meltano then
relays line by line; so the kept items' highlights and links are gathered over pages and
go out in one child context per :data:`~tap_pocket.pages.batches.ITEMS_PER_CONTEXT` items.

The SDK syncs a row's children only when the stream map keeps the row, so a context
rides on a kept row, and holds only what belongs to kept items. The rows from the latest
kept row on are held back until the next page shows whether more kept rows follow: the
last batch then rides on the last kept row of the sync. Until a batch is out,
:attr:`ChildBatches.first_offset` names the page a resumed sync has to re-read.
"""

from __future__ import annotations

import typing as t

from tap_pocket.pages.batches import ITEMS_PER_CONTEXT, PAGES_KEY, ContextRider, page_links

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tap_pocket.api.page import Part
    from tap_pocket.rows import Highlight

#: Rows held back behind the latest kept row before they go out anyway (with a stream map
#: that keeps few rows, the next kept one may be far away).
MAX_HELD_ROWS = 10_000
#: Characters of the highlights gathered for one context before it goes out early.
MAX_HIGHLIGHT_TEXT = 16 << 20


class ChildBatches(ContextRider):
    """The rows of a sync's pages in order, with a child context set on the row it rides on."""

    def __init__(
        self,
        kept: Callable[[t.Any], t.Any],
        *,
        with_pages: bool,
        size: int = ITEMS_PER_CONTEXT,
    ) -> None:
        super().__init__()
        self._kept = kept
        self._with_pages = with_pages
        self.size = size
        #: The offset of the oldest page whose kept items' children are not out yet.
        self.first_offset: int | None = None
        self._highlights: list[Highlight] = []
        #: The characters of their quotes and patches.
        self._text = 0
        self._kept_rows: list[t.Any] = []
        #: Rows from the latest kept row on, not yet handed on.
        self._held: list[t.Any] = []

    def rows(self, part: Part, rows: list[t.Any]) -> Iterator[t.Any]:
        """The rows that can go out now: ``rows`` are ``part``'s, in its order."""
        kept_at = [i for i, row in enumerate(rows) if self._kept(row)]
        if not kept_at:
            if self._held:  # they stay behind the row the next context rides on
                self._held.extend(rows)
                if len(self._held) >= MAX_HELD_ROWS:
                    yield from self.finish()
            else:
                yield from rows
            return
        if self.first_offset is None:
            self.first_offset = part.offset
        kept_ids = {part.entries[i].item_id for i in kept_at}
        highlights = [h for h in part.highlights if h.item_id in kept_ids]
        self._highlights += highlights
        self._text += sum(len(h.quote or "") + len(h.patch or "") for h in highlights)
        self._kept_rows += [rows[i] for i in kept_at]
        yield from self._held
        last = kept_at[-1]
        if len(self._kept_rows) >= self.size or self._text >= MAX_HIGHLIGHT_TEXT:
            self._set_ready(rows[last])
            self._held = []
            yield from rows
        else:
            self._held = rows[last:]
            yield from rows[:last]

    def finish(self) -> Iterator[t.Any]:
        """The held rows, the last batch riding on the first of them (the last kept row)."""
        held, self._held = self._held, []
        if held:
            self._set_ready(held[0])
        yield from held

    def _set_ready(self, row: t.Any) -> None:
        if self._highlights or self._with_pages:
            # The offset of the batch's first page names it in the SDK's log lines.
            children: dict[str, t.Any] = {
                "offset": self.first_offset,
                "highlights": self._highlights,
            }
            if self._with_pages:
                children[PAGES_KEY] = page_links(self._kept_rows)
            self.ride(row, children)
        self._highlights, self._kept_rows = [], []
        self._text = 0
        self.first_offset = None
