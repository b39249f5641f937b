"""Deterministic, realistic Pocket accounts of any size, shaped after the real samples.

What the real responses showed, and every generated account reproduces: ~40% archived,
a few favorites, tags with spaces and non-ASCII (and many untagged items), items without
``time_to_read``, ``lang: ""``, videos (``has_video "2"``) and images (``has_image "2"``),
authors on most items, image(s)/videos on some, ``domain_metadata`` in its full and its
name-only form, ``resolved_id != item_id`` after redirects, titles with emoji and a leaked
``&amp;``, ``"tags": {}``, one ``"time_read": "2020"``, one ``amp_url``, and highlights on
~10% of items.

Timestamps are absolute (2012-01-01 to 2023-11-10), not relative to the clock, so the
same ``(n_items, seed)`` always gives the same account; they all lie before the default
:class:`~pocket_emulator.FakeClock` start, so changes made "now" sort after them.
"""

from __future__ import annotations

import random
import re
import typing as t
from array import array

from pocket_emulator.account import Account
from pocket_emulator.entries import ARCHIVED
from pocket_emulator.profiles import ID_PLACEHOLDER, Profile, TagPool

if t.TYPE_CHECKING:
    from pocket_emulator.clock import Clock

GENERATED_FROM = 1_325_376_000  # 2012-01-01T00:00:00Z
GENERATED_UNTIL = 1_699_600_000  # 2023-11-10, before FakeClock's default start
#: Generated item ids ascend from here with time_added, like Pocket's did.
FIRST_GENERATED_ID = 60_000_000
GENERATED_ID_SPAN = 2_900_000_000

#: Distinct pages behind generated items; items beyond this share them.
MAX_PROFILES = 997

ARCHIVED_PERCENT = 40
FAVORITE_PERCENT = 8
UNTAGGED_PERCENT = 45
HIGHLIGHTED_PERCENT = 10

_EN_SITES = (
    ("The New York Times", "www.nytimes.com"),
    ("GitHub", "github.com"),
    ("Medium", "medium.com"),
    ("R-bloggers", "www.r-bloggers.com"),
    ("Towards Data Science", "towardsdatascience.com"),
    ("Ars Technica", "arstechnica.com"),
    ("The Guardian", "www.theguardian.com"),
    ("Gwern.net", "www.gwern.net"),
    ("Inc. Magazine", "www.inc.com"),
    ("Wikipedia", "en.wikipedia.org"),
    ("Katherine Wood", "katherinemwood.github.io"),
    ("Shtetl-Optimized", "www.scottaaronson.com"),
)
_DE_SITES = (("DER SPIEGEL", "www.spiegel.de"), ("ZEIT ONLINE", "www.zeit.de"))
_FR_SITES = (("Le Monde", "www.lemonde.fr"),)
_VIDEO_SITES = (("YouTube", "www.youtube.com"), ("Vimeo", "vimeo.com"))
_IMAGE_SITES = (("Imgur", "i.imgur.com"), ("Flickr", "live.staticflickr.com"))

_EN_TOPICS = (
    "Unit Testing",
    "Machine Learning",
    "Remote Work",
    "Sourdough Baking",
    "Urban Cycling",
    "Quantum Computing",
    "API Design",
    "Sleep",
    "Typography",
    "Climate Adaptation",
    "Open Source Funding",
    "Personal Finance",
    "Deep Learning",
    "Chess Openings",
    "Coffee",
    "Bell Inequalities",
    "Tidy Data",
    "Public Transit",
    "Note-Taking",
    "Caching",
)
_DE_TOPICS = ("Datenschutz", "Künstliche Intelligenz", "Stadtplanung", "Energiewende", "Bürokratie")
_FR_TOPICS = ("télétravail", "vélo urbain", "café", "logiciel libre", "pain au levain")

_EN_TITLES = (
    "Why {a} Is Harder Than It Looks",
    "{n} Lessons From a Decade of {a}",
    "How to Think About {a} &amp; {b}",  # Pocket let the entity leak into titles
    "The “{a}” Problem, Explained",
    "{a}: A Field Guide 🚀",
    "I Tried {a} for a Year. Here's What Happened",
    'What "{a}" Really Means',
    "Intro to {a} in R",
    "{a} — the Good Parts",
    "Notes on {a} 📚✨",
    "{a} vs. {b}: café-table arguments, settled",
)
_DE_TITLES = (
    "Warum {a} uns alle betrifft",
    "Über {a}: Eine Einführung",
    "{a} – was jetzt zählt",  # noqa: RUF001 - real titles carry typographic dashes
)
_FR_TITLES = (
    "Le guide complet du {a}",
    "Pourquoi le {a} change tout",
    "{a} : l'été où tout a basculé",
)

_EN_SENTENCES = (
    "The idea is simple: you write a script that automatically checks your work.",
    "APIs vary widely, so it pays to understand how the one you use handles errors.",
    "Computational complexity describes the steep increase in effort for larger problems.",
    "A few weeks ago, a paper reported the first experiment that closes both loopholes.",
    "Welcome to Pocket. You’re about to embark on a journey through everything you save.",  # noqa: RUF001
    "Most advice on this topic is either too vague or too specific to be useful.",
    "We measured it for twelve months, and the results surprised everyone involved.",
    "There is a trade-off here, and pretending otherwise only postpones the bill.",
)
_DE_SENTENCES = (
    "Die Idee ist einfach: Man schreibt ein Skript, das die eigene Arbeit überprüft.",
    "Viele Städte planen um, doch die Umsetzung dauert länger als gedacht.",
    "Für Verbraucher ändert sich zunächst wenig, für Unternehmen dagegen viel.",
)
_FR_SENTENCES = (
    "L'idée est simple : écrire un script qui vérifie automatiquement son travail.",
    "Depuis la pandémie, le télétravail s'est installé durablement dans les entreprises.",
)

_AUTHORS = (
    "Katherine Wood",
    "Hadley Wickham",
    "Gwern Branwen",
    "José Martínez",
    "Zoë Müller",
    "李雷",
    "Ana Ivanović",
    "Pocket",
    "Link.",
    "Chris O'Neil",
    "Søren Kierkegaard-Smith",
)
_TAG_NAMES = (
    "python",
    "to read",
    "long read",
    "machine learning",
    "rstats",
    "café",
    "über",
    "日本語",
    "data-science",
    "2024 reading list",
    "recipes 🍜",
    "test",
    "quantum",
)

_CAPTIONS = (
    "",
    "",
    "",
    "Figure 1: what the numbers say",
    "Sauron explains why he’s unfriendly.",  # noqa: RUF001 - as in a real sample
)

_LANGS = {"en": _EN_SENTENCES, "de": _DE_SENTENCES, "fr": _FR_SENTENCES}


def generate_account(n_items: int, seed: int = 0, clock: Clock | None = None) -> Account:
    """An account with ``n_items`` live (unread or archived) items.

    The same ``(n_items, seed)`` always gives the same account. A million items take a few
    seconds and ~40 MB.
    """
    if n_items < 0:
        msg = "n_items cannot be negative"
        raise ValueError(msg)
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not security
    profiles = [_make_profile(rng, number) for number in range(min(max(n_items, 1), MAX_PROFILES))]
    tags = TagPool()
    tagsets = _make_tagsets(rng, tags)
    columns = _make_columns(rng, n_items, len(profiles), tagsets)
    account = Account(clock)
    account.load_generated(profiles, tags, columns)
    _add_singular_quirks(account, columns)
    return account


# ---------------------------------------------------------------------- per-item columns


def _make_columns(
    rng: random.Random, n_items: int, n_profiles: int, tagsets: list[int]
) -> dict[str, t.Any]:
    """The per-item numbers, drawn from one 128-bit random number per item."""
    gap = max(1, (GENERATED_UNTIL - GENERATED_FROM) // max(n_items, 1))
    id_step = max(2, GENERATED_ID_SPAN // max(n_items, 1))
    item_id = array("q", bytes(8 * n_items))
    time_added = array("q", bytes(8 * n_items))
    time_updated = array("q", bytes(8 * n_items))
    profile = array("i", bytes(4 * n_items))
    tagset = array("I", bytes(4 * n_items))
    status = bytearray(n_items)
    favorite = bytearray(n_items)
    highlight_count = bytearray(n_items)
    draw = rng.getrandbits
    n_tagsets = len(tagsets)
    # Percentages as thresholds on 16-bit draws: exact odds, no modulo bias.
    archived_below, favorite_below = _threshold(ARCHIVED_PERCENT), _threshold(FAVORITE_PERCENT)
    untagged_below, highlighted_below = (
        _threshold(UNTAGGED_PERCENT),
        _threshold(HIGHLIGHTED_PERCENT),
    )
    for row in range(n_items):
        bits = draw(192)
        added = GENERATED_FROM + row * gap + (bits & 0xFFFFFFFF) % gap
        time_added[row] = added
        item_id[row] = (
            FIRST_GENERATED_ID + row * id_step + (bits >> 32 & 0xFFFFFFFF) % (id_step // 2)
        )
        # The first items use every profile once, so small accounts show every quirk.
        profile[row] = row if row < n_profiles else (bits >> 64 & 0xFFFFF) % n_profiles
        archived = (bits >> 84 & 0xFFFF) < archived_below
        status[row] = archived
        favorite[row] = (bits >> 100 & 0xFFFF) < favorite_below
        tagged = (bits >> 116 & 0xFFFF) >= untagged_below
        tagset[row] = tagsets[(bits >> 132 & 0x3FF) % n_tagsets] if tagged else TagPool.UNTAGGED
        if (bits >> 142 & 0xFFFF) < highlighted_below:
            highlight_count[row] = 1 + (bits >> 158 & 0x3) % 3
        touched = archived or favorite[row] or tagged or highlight_count[row]
        # Items that were archived, favorited, tagged or highlighted were updated later.
        time_updated[row] = added + (bits >> 160) % (GENERATED_UNTIL - added) if touched else added
    return {
        "item_id": item_id,
        "time_added": time_added,
        "time_updated": time_updated,
        "status": status,
        "favorite": favorite,
        "tagset": tagset,
        "profile": profile,
        "highlight_count": highlight_count,
    }


def _threshold(percent: int) -> int:
    return percent * 0x10000 // 100


def _make_tagsets(rng: random.Random, tags: TagPool) -> list[int]:
    """Interned combinations of one to three tags for tagged items to pick from."""
    combinations = [[name] for name in _TAG_NAMES]
    combinations += [rng.sample(_TAG_NAMES, rng.randint(2, 3)) for _ in range(60)]
    return [tags.intern(names) for names in combinations]


def _add_singular_quirks(account: Account, columns: dict[str, t.Any]) -> None:
    """Quirks the samples show on exactly one item: junk time_read, an amp_url."""
    ids, status = columns["item_id"], columns["status"]
    n_items = len(ids)
    if n_items == 0:
        return
    archived = [row for row in range(n_items // 3, n_items) if status[row] == int(ARCHIVED)]
    if archived:
        account.overwrite_fields(str(ids[archived[0]]), time_read="2020")
    amp_row = n_items // 2
    if amp_row != (archived[0] if archived else -1):
        entry = account.item(str(ids[amp_row]))
        if entry.get("is_article") == "1":
            amp_url = entry["resolved_url"].rstrip("/") + "/amp/"
            account.overwrite_fields(str(ids[amp_row]), amp_url=amp_url)


# ---------------------------------------------------------------------- profiles


def _make_profile(rng: random.Random, number: int) -> Profile:
    """One page that items point to.

    ``number`` forces the rarer quirks at fixed rates (see :func:`_picked`), so that even a
    small account has each of them.
    """
    kind, lang = "article", "en"
    if _picked(number, every=11, at=1):
        kind = "video"
    elif _picked(number, every=13, at=2):
        kind = "image"
    if _picked(number, every=7, at=3):
        lang = "de"
    elif _picked(number, every=19, at=4):
        lang = "fr"
    if kind == "video":
        site, host = rng.choice(_VIDEO_SITES)
    elif kind == "image":
        site, host = rng.choice(_IMAGE_SITES)
    else:
        site, host = rng.choice({"en": _EN_SITES, "de": _DE_SITES, "fr": _FR_SITES}[lang])
    resolved_title = _title(rng, lang, number)
    redirects = _picked(number, every=7, at=5)
    urls = _urls(rng, kind, host, resolved_title, redirects=redirects)
    given_title = ("", f"{resolved_title} - {site}", resolved_title, resolved_title)[number % 4]
    sentences = _LANGS[lang]
    excerpt = " ".join(rng.sample(sentences, min(2, len(sentences)))) if kind == "article" else ""
    word_count = rng.randint(150, 12_000) if kind == "article" else 0
    meta: dict[str, t.Any] = {
        "excerpt": excerpt,
        "is_article": "1" if kind == "article" and not _picked(number, every=23, at=9) else "0",
        "is_index": "1" if _picked(number, every=12, at=6) else "0",
        "has_video": "2" if kind == "video" else "1" if _picked(number, every=17, at=8) else "0",
        "has_image": "2" if kind == "image" else "1" if _picked(number, every=3, at=0) else "0",
        "word_count": str(word_count),
        "lang": "" if _picked(number, every=9, at=3) else lang,
    }
    # time_to_read is missing on ~1 in 5 items
    if kind == "article" and not _picked(number, every=5, at=4):
        meta["time_to_read"] = max(1, word_count // 220)
    if not _picked(number, every=10, at=9):
        meta["top_image_url"] = f"https://{host}/static/cover-{number}.png"
    return Profile(
        host=host,
        given_url_prefix=urls[0],
        given_url_suffix=urls[1],
        resolved_url_prefix=urls[2],
        resolved_url_suffix=urls[3],
        redirects=redirects,
        given_title=given_title,
        resolved_title=resolved_title,
        meta=meta,
        media=_media(rng, number, kind, site, host, meta),
        listen_duration_estimate=int(word_count * 0.3875),  # Pocket's ~155 words a minute
        empty_tags_object=_picked(number, every=5, at=2),
        quotes=tuple(_quotes(excerpt or resolved_title)),
    )


def _picked(number: int, *, every: int, at: int) -> bool:
    """Whether profile ``number`` has a quirk that one profile in ``every`` has.

    The profiles with it are those at ``at``, ``at + every``, ``at + 2 * every``, ...
    """
    return number % every == at


def _title(rng: random.Random, lang: str, number: int) -> str:
    templates = {"en": _EN_TITLES, "de": _DE_TITLES, "fr": _FR_TITLES}[lang]
    topics = {"en": _EN_TOPICS, "de": _DE_TOPICS, "fr": _FR_TOPICS}[lang]
    first, second = rng.sample(topics, 2)
    return templates[number % len(templates)].format(a=first, b=second, n=rng.randint(3, 21))


def _urls(
    rng: random.Random, kind: str, host: str, title: str, *, redirects: bool
) -> tuple[str, str, str, str]:
    """(given prefix, given suffix, resolved prefix, resolved suffix) around the item id."""
    if kind == "video":
        prefix = f"https://{host}/watch?v=pk" if "youtube" in host else f"https://{host}/"
        return prefix, "", prefix, ""
    if kind == "image":
        return f"https://{host}/", ".jpg", f"https://{host}/", ".jpg"
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "untitled"
    path = f"{rng.randint(2012, 2023)}/{rng.randint(1, 12):02d}/{slug}-"
    suffix = rng.choice(("/", ".html", ""))
    if redirects:  # saved from a newsletter link, resolved to the canonical https URL
        tracking = "?utm_source=hackernewsletter&utm_medium=email"
        return f"http://{host}/{path}", f"{suffix}{tracking}", f"https://{host}/{path}", suffix
    return f"https://{host}/{path}", suffix, f"https://{host}/{path}", suffix


def _media(  # noqa: PLR0913, PLR0917 - the facts of one page, each of them used
    rng: random.Random, number: int, kind: str, site: str, host: str, meta: dict[str, t.Any]
) -> dict[str, t.Any]:
    """The complete-detail extras; inner item ids are the placeholder (the resolved id)."""
    media: dict[str, t.Any] = {}
    if kind == "article" and not _picked(number, every=8, at=7):
        media["authors"] = _authors(rng, host)
    if meta["has_image"] != "0":
        images = _images(rng, host, 4 if kind == "article" else 1)
        first = images["1"]
        media["image"] = {key: first[key] for key in ("item_id", "src", "width", "height")}
        media["images"] = images
    if meta["has_video"] != "0":
        vid = "".join(
            rng.choices("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=11)
        )
        media["videos"] = {
            "1": {
                "item_id": ID_PLACEHOLDER,
                "video_id": "1",
                "src": f"https://www.youtube.com/embed/{vid}",
                "width": "0",
                "height": "0",
                "type": "1",
                "vid": vid,
                "length": str(rng.choice((0, 0, 213, 1804))),
            }
        }
    if _picked(number, every=6, at=0):
        logo_domain = host.removeprefix("www.")
        media["domain_metadata"] = (
            {"name": host}  # the name-only form of older saves
            if _picked(number, every=12, at=0)
            else {
                "name": site,
                "logo": f"https://logo.clearbit.com/{logo_domain}?size=800",
                "greyscale_logo": f"https://logo.clearbit.com/{logo_domain}?size=800&greyscale=true",
            }
        )
    return media


def _authors(rng: random.Random, host: str) -> dict[str, dict[str, str]]:
    authors = {}
    for name in rng.sample(_AUTHORS, rng.choice((1, 1, 1, 2))):
        author_id = str(rng.randint(100_000, 130_000_000))
        url = rng.choice(("", "", f"https://{host}/author/{author_id}"))
        authors[author_id] = {
            "item_id": ID_PLACEHOLDER,
            "author_id": author_id,
            "name": name,
            "url": url,
        }
    return authors


def _images(rng: random.Random, host: str, most: int) -> dict[str, dict[str, str]]:
    images = {}
    for number in range(1, rng.randint(1, most) + 1):
        width, height = rng.choice((("0", "0"), ("660", "441"), ("1920", "1167"), ("672", "0")))
        caption = rng.choice(_CAPTIONS)
        images[str(number)] = {
            "item_id": ID_PLACEHOLDER,
            "image_id": str(number),
            "src": f"https://{host}/images/{rng.getrandbits(48):012x}.png",
            "width": width,
            "height": height,
            "credit": "",
            "caption": caption,
        }
    return images


def _quotes(text: str) -> list[str]:
    """Passages a reader would highlight: sentences, or the whole text when short."""
    sentences = [part.strip() for part in re.split(r"(?<=[.!?])\s+", text) if part.strip()]
    return sentences or [text]
