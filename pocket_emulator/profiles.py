"""Shared, pre-encoded pieces of generated items, so a million items cost little memory.

A generated item is a handful of per-item numbers (id, times, status, ...) plus a
:class:`Profile`: the page it points to (title, excerpt, authors, images, ...), shared with
other items and encoded to JSON once. Serving such an item is string concatenation.
Per-item ids inside the shared JSON (``authors.*.item_id``, ``images.*.item_id``, tag
entries) are left as a placeholder and joined in at serve time.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from pocket_emulator.entries import annotation_patch, encode

#: Stands for the item's id inside pre-encoded JSON; never occurs in real content.
ID_PLACEHOLDER = "@@ITEM-ID@@"

#: ``contentType`` filter bits of an item.
ARTICLE, VIDEO, IMAGE = 1, 2, 4

#: A "redirected" item (``resolved_id != item_id``) resolves to its id plus this.
RESOLVED_ID_OFFSET = 1_000_000_007


def content_bits(raw: t.Mapping[str, t.Any]) -> int:
    """What ``contentType`` matches an entry, as :data:`ARTICLE` | :data:`VIDEO` | :data:`IMAGE`.

    Article: is_article "1"; video: has_video "1" or "2"; image: has_image "2" (the item
    *is* an image).
    """
    bits = 0
    if raw.get("is_article") == "1":
        bits |= ARTICLE
    if raw.get("has_video") in ("1", "2"):
        bits |= VIDEO
    if raw.get("has_image") == "2":
        bits |= IMAGE
    return bits


def split_on_placeholder(text: str) -> tuple[str, ...]:
    """Pre-encoded JSON cut at each id placeholder: ``item_id.join(parts)`` fills them in."""
    return tuple(text.split(ID_PLACEHOLDER))


@dataclass
class Profile:
    """The resolved page behind generated items, with its JSON pre-encoded.

    ``meta`` holds the simple-detail fields after ``resolved_url`` (excerpt ... top image);
    ``media`` the complete-only ones (authors, image(s), videos, domain_metadata), whose
    inner ``item_id`` is the placeholder.
    """

    host: str
    given_url_prefix: str
    given_url_suffix: str
    resolved_url_prefix: str
    resolved_url_suffix: str
    redirects: bool  # the given URL resolved elsewhere: resolved_id != item_id
    given_title: str
    resolved_title: str
    meta: dict[str, t.Any]
    media: dict[str, t.Any]
    listen_duration_estimate: int
    empty_tags_object: bool  # untagged items say "tags": {} instead of leaving it out
    quotes: tuple[str, ...]  # passages that generated highlights quote
    content: int = field(init=False)
    given_title_json: str = field(init=False)
    resolved_title_json: str = field(init=False)
    meta_json: str = field(init=False)
    media_parts: tuple[str, ...] = field(init=False)
    listen_json: str = field(init=False)
    quote_json: tuple[str, ...] = field(init=False)  # '"quote":...,"patch":...' per quote

    def __post_init__(self) -> None:
        self.content = content_bits(self.meta)
        self.given_title_json = encode(self.given_title)
        self.resolved_title_json = encode(self.resolved_title)
        self.meta_json = "," + encode(self.meta)[1:-1] if self.meta else ""
        media = "," + encode(self.media)[1:-1] if self.media else ""
        self.media_parts = split_on_placeholder(media)
        self.listen_json = f',"listen_duration_estimate":{self.listen_duration_estimate}'
        text = str(self.meta.get("excerpt") or self.resolved_title)
        self.quote_json = tuple(
            encode({"quote": quote, "patch": annotation_patch(quote, max(0, text.find(quote)))})[
                1:-1
            ]
            for quote in self.quotes
        )

    def given_url(self, item_id: str) -> str:
        """The URL the user saved, for the item ``item_id``."""
        return f"{self.given_url_prefix}{item_id}{self.given_url_suffix}"

    def resolved_url(self, item_id: str) -> str:
        """The URL Pocket resolved the saved one to, for the item ``item_id``."""
        return f"{self.resolved_url_prefix}{item_id}{self.resolved_url_suffix}"


class TagPool:
    """Interned tag sets: items store a small index instead of their own tuple of names."""

    UNTAGGED = 0

    def __init__(self) -> None:
        self._sets: list[tuple[str, ...]] = [()]
        self._index: dict[tuple[str, ...], int] = {(): self.UNTAGGED}
        self._parts: list[tuple[str, ...]] = [("",)]

    def intern(self, names: t.Iterable[str]) -> int:
        """The index of this set of tag names (order kept: Pocket keyed tags by name)."""
        key = tuple(dict.fromkeys(names))
        index = self._index.get(key)
        if index is None:
            index = len(self._sets)
            self._sets.append(key)
            self._index[key] = index
            tags = {name: {"item_id": ID_PLACEHOLDER, "tag": name} for name in key}
            self._parts.append(split_on_placeholder(',"tags":' + encode(tags)))
        return index

    def names(self, index: int) -> tuple[str, ...]:
        """The tag names of the set interned as ``index``."""
        return self._sets[index]

    def json_parts(self, index: int) -> tuple[str, ...]:
        """The ``,"tags":{...}`` member cut at the item id placeholders."""
        return self._parts[index]

    def __len__(self) -> int:
        return len(self._sets)
