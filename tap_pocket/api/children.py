"""How the API ``items`` stream hands highlights and links to its children, in batches.

Each ``/v3/get`` page carries the highlights of its items (``annotations=1``), and the
``pages`` stream wants the items' links. A child context per page meant a child sync,
four SDK log lines and a flush per 30 items at the default page_size, which Meltano then
relays line by line; so the kept items' highlights and links are gathered over pages and
go out in one child context per :data:`~tap_pocket.pages.batches.ITEMS_PER_CONTEXT` items.

The SDK syncs a row's children only when the stream map keeps the row, so a context
rides on a kept row, and holds only what belongs to kept items; the last batch rides on
the last kept row of the sync and tells ``pages`` to drain its links
(:class:`~tap_pocket.pages.batches.KeptBatches`). Until a batch is out,
:attr:`ChildBatches.first_offset` names the page a resumed sync has to re-read.
"""

from __future__ import annotations

import typing as t

from typing_extensions import override

from tap_pocket.pages.batches import (
    ITEMS_PER_CONTEXT,
    PAGES_KEY,
    KeptBatches,
    LinkBatch,
    page_links,
    row_value,
)

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from singer_sdk.helpers.types import Context

    from tap_pocket.api.page import Part
    from tap_pocket.rows import Highlight

#: Characters of the highlights gathered for one context before it goes out early.
MAX_HIGHLIGHT_TEXT = 16 << 20


class ChildBatches(KeptBatches):
    """The rows of a sync's pages in order, with a child context set on the row it rides on."""

    def __init__(
        self,
        kept: Callable[[t.Any], t.Any],
        *,
        with_pages: bool,
        size: int = ITEMS_PER_CONTEXT,
    ) -> None:
        super().__init__(kept, size)
        self._with_pages = with_pages
        #: The offset of the oldest page whose kept items' children are not out yet.
        self.first_offset: int | None = None
        self._highlights: list[Highlight] = []
        #: The characters of their quotes and patches.
        self._text = 0

    def rows(self, part: Part, rows: list[t.Any]) -> Iterator[t.Any]:
        """The rows that can go out now: ``rows`` are ``part``'s, in its order."""

        def gather(kept_rows: list[t.Any]) -> None:
            if self.first_offset is None:
                self.first_offset = part.offset
            kept_ids = {row_value(row, "item_id") for row in kept_rows}
            highlights = [h for h in part.highlights if h.item_id in kept_ids]
            self._highlights += highlights
            self._text += sum(len(h.quote or "") + len(h.patch or "") for h in highlights)

        return self.feed(rows, gather)

    @override
    def full(self) -> bool:
        return super().full() or self._text >= MAX_HIGHLIGHT_TEXT

    @override
    def context(self, *, last: bool) -> Context | None:
        highlights, self._highlights = self._highlights, []
        self._text = 0
        # The offset of the batch's first page names it in the SDK's log lines.
        offset, self.first_offset = self.first_offset, None
        if not (highlights or self._with_pages):
            return None
        children: dict[str, t.Any] = {"offset": offset, "highlights": highlights}
        if self._with_pages:
            children[PAGES_KEY] = LinkBatch(page_links(self.kept_rows), last)
        return children
