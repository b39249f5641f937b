"""A page's language as a BCP 47 tag: declared by the page, else detected from its text.

The page's own word comes first: ``<html lang>``, then ``<meta http-equiv=
"content-language">``, then ``og:locale``. A page that declares none gets what Google's
CLD3 (the ``cld3-py`` wheel: no numpy, no model fetched at run time) finds in its main
text, when the text is long enough and CLD3 is sure. Tags are written in BCP 47's case
(``en-GB``, ``zh-Hant-TW``, ``sr-Latn``).
"""

from __future__ import annotations

import functools
import re
import typing as t

_SUBTAG = re.compile(r"^[A-Za-z0-9]{1,8}$")
_PRIMARY = re.compile(r"^[A-Za-z]{2,8}$")
#: Shorter main texts are not worth a guess.
MIN_DETECT_CHARS = 50
#: Characters of the main text the detector reads.
DETECT_CHARS = 4096


def bcp47(tag: str | None) -> str | None:
    """``tag`` in BCP 47's case (``en_gb`` -> ``en-GB``), None when it is not a tag."""
    if not tag:
        return None
    parts = re.split(r"[-_]", tag.strip().split(",")[0].strip())
    if not _PRIMARY.match(parts[0]) or not all(_SUBTAG.match(p) for p in parts[1:]):
        return None
    out = [parts[0].lower()]
    extension = False
    for part in parts[1:]:
        extension = extension or len(part) == 1
        if extension:
            out.append(part.lower())
        elif len(part) == 4 and part.isalpha():  # noqa: PLR2004 - a script: Latn, Hant
            out.append(part.title())
        elif (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit()):  # noqa: PLR2004 - a region: GB, 419
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)


def declared_language(tree: t.Any) -> str | None:
    """The language the page (an lxml tree) declares, as a BCP 47 tag."""
    root = tree.getroottree().getroot()
    metas = list(root.iter("meta"))
    candidates = [
        root.get("lang"),
        root.get("{http://www.w3.org/XML/1998/namespace}lang"),
        *(m.get("content") for m in metas if _attribute(m, "http-equiv") == "content-language"),
        *(m.get("content") for m in metas if _attribute(m, "property", "name") == "og:locale"),
    ]
    for candidate in candidates:
        tag = bcp47(candidate)
        if tag:
            return tag
    return None


def _attribute(element: t.Any, *names: str) -> str:
    """The first of the attributes ``names`` the element has, trimmed and in lower case."""
    for name in names:
        value = element.get(name)
        if value:
            return str(value).strip().lower()
    return ""


def detect_language(text: str) -> str | None:
    """The language CLD3 reliably finds in ``text``, else None."""
    if len(text) < MIN_DETECT_CHARS:
        return None
    found = _detector().FindLanguage(text=text[:DETECT_CHARS])
    if not found.is_reliable or found.language in {"und", ""}:
        return None
    return bcp47(found.language)


@functools.lru_cache(maxsize=1)
def _detector() -> t.Any:
    import gcld3  # type: ignore[import-untyped]  # cld3-py ships no type hints

    return gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=DETECT_CHARS * 4)
