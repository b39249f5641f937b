"""Whether a page that answered 200 is the article it was saved for.

:func:`verdict` names what a page is when it is not an article, from what it says (its
title, its main text, a few markers in its HTML) and where the link led:

- ``blocked``: a bot challenge (Cloudflare's "Just a moment...", a captcha wall);
- ``soft_404``: a "page not found" page served with status 200;
- ``login_wall``: a sign-in form, or a paywall teaser that asks to subscribe;
- ``not_article``: an empty shell that needs JavaScript to show anything, or a deep link
  that led to the site's home page.

Each rule asks for a short main text as well as its signs: a real article that talks
about logins or 404s is long, and a wrong verdict throws a good page away. The rules
were decided on the labelled pages of tests/fixtures/pages/labelled (README there), whose
precision and recall tests/test_pages_classify.py measures.
"""

from __future__ import annotations

import html as html_module
import re
from urllib.parse import urlsplit

#: A main text at least this long is an article, whatever else the page says.
SHORT_TEXT = 1500
#: A shell has at most this much main text.
SHELL_TEXT = 200

#: Titles of challenge pages only: whatever the page holds besides (its script may read
#: as a long text).
_CHALLENGE_TITLE = re.compile(
    r"^\s*(?:just a moment\.*|attention required!? \| cloudflare|please wait\.* \| cloudflare"
    r"|ddos-guard|checking your browser.*|v[ée]rification en cours\.*"
    r"|loading\.*\s*please wait \d+ seconds.*)\s*$",
    re.IGNORECASE,
)
#: Titles of a refusal when the page has little else to say.
_BLOCKED_TITLE = re.compile(
    r"^\s*(?:one more step|security check|are you a robot\??|robot or human\??"
    r"|pardon our interruption|access denied|verify you are human|human verification"
    r"|captcha|bot verification|you have been blocked)\s*$",
    re.IGNORECASE,
)
_BLOCKED_MARKERS = re.compile(
    r"cf-browser-verification|cf_chl_opt|/cdn-cgi/challenge-platform/h/|cf-challenge"
    r"|id=[\"']challenge-form|captcha-delivery\.com|px-captcha|_incapsula_resource"
    r"|incapsula incident|g-recaptcha|h-captcha|cf-turnstile|ddos-guard|/cdn-cgi/bm/cv/"
    r"|checking your browser before accessing|please turn javascript on and reload the page",
    re.IGNORECASE,
)
_NOT_FOUND = re.compile(
    r"\b404\b|not found|page (?:you|you're|you are) (?:were )?(?:looking|searching) for"
    r"|(?:does not|doesn't|no longer) exists?|(?:could not|couldn't|can't|cannot) be found"
    r"|(?:could not|couldn't|can't|cannot|we can't|we couldn't) find (?:the|that|this) page"
    r"|page (?:is )?(?:no longer|not) available|seite (?:wurde )?nicht gefunden"
    r"|page (?:introuvable|non trouv[ée]e)|p[áa]gina no encontrada|pagina non trovata"
    r"|pagina niet gevonden|strona nie (?:zosta[łl]a )?znaleziona|sidan (?:hittades|finns) inte"
    r"|\bcannot get /|страница не найдена|ページが見つかりません|页面不存在"
    r"|找不到(?:该|此|您要的)?页面|페이지를 찾을 수 없습니다",
    re.IGNORECASE,
)
_LOGIN = re.compile(
    r"\b(?:sign|log)[ -]?in\b|\blogin\b|\bsubscribe\b|\bsubscri(?:ber|ption)s?\b"
    r"|create (?:a |an )?(?:free )?account|register to (?:continue|read)|members?[- ]only"
    r"|reached your (?:free )?(?:article )?limit|free articles?|\banmelden\b|\bconnexion\b"
    r"|\babonn(?:ieren|ez|ement)\b|\biniciar sesi[óo]n\b|\baccedi\b|ログイン|登录|로그인",
    re.IGNORECASE,
)
#: The path of a sign-in page (where a login wall redirects to).
_LOGIN_PATH = re.compile(
    r"log_?in|sign_?in|sign-in|sign_?up|/auth(?:wall)?\b|/session", re.IGNORECASE
)
_PASSWORD_FIELD = re.compile(r"<input[^>]+type\s*=\s*[\"']?password", re.IGNORECASE)
_NOT_FREE = re.compile(r"[\"']isAccessibleForFree[\"']\s*:\s*[\"']?false", re.IGNORECASE)
_NEEDS_SCRIPT = re.compile(
    r"enable javascript|javascript (?:is )?(?:required|disabled|not available)"
    r"|doesn't work (?:properly )?without javascript|requires javascript"
    r"|turn on javascript|javascript must be enabled",
    re.IGNORECASE,
)
_APP_ROOT = re.compile(
    r"<(?:div|main)[^>]+id=[\"'](?:root|app|__next|___gatsby|__nuxt|svelte)[\"'][^>]*>\s*</"
    r"|<app-root[^>]*>\s*</app-root>",
    re.IGNORECASE,
)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
#: Characters of the page searched for its ``<title>``.
TITLE_CHARS = 100_000
_HOME_PATHS = frozenset({"", "/", "/index.html", "/index.php", "/home", "/home/"})
_HOST_PREFIXES = ("www.", "m.", "amp.", "mobile.")


def verdict(  # noqa: PLR0911 - one return per verdict
    *, html: str, title: str | None, text: str | None, url: str, requested_url: str
) -> str | None:
    """The page's error code when it is not an article, else None (see the module doc)."""
    size = len(text or "")
    titles = [(title or "").strip(), _raw_title(html)]
    if any(_CHALLENGE_TITLE.match(one) for one in titles):
        return "blocked"
    if _home_instead_of_deep_link(url, requested_url):
        return "not_article"
    if size >= SHORT_TEXT:
        return None
    if any(_BLOCKED_TITLE.match(one) for one in titles) or (
        size < SHELL_TEXT and _BLOCKED_MARKERS.search(html)
    ):
        return "blocked"
    title = " / ".join(titles)
    if _NOT_FOUND.search(title) or (size < SHELL_TEXT and _NOT_FOUND.search(text or "")):
        return "soft_404"
    if _login_wall(html, title, text or "", url):
        return "login_wall"
    if size < SHELL_TEXT and (_NEEDS_SCRIPT.search(html) or _APP_ROOT.search(html)):
        return "not_article"
    return None


def _raw_title(html: str) -> str:
    """The page's own ``<title>`` (trafilatura's title drops a trailing "| Site")."""
    found = _TITLE.search(html, 0, TITLE_CHARS)
    return " ".join(html_module.unescape(found.group(1)).split()) if found else ""


def _login_wall(html: str, title: str, text: str, url: str) -> bool:
    """A sign-in form that stands for the page, or a paywall teaser with little text."""
    short_and_asks = len(text) < SHELL_TEXT and bool(_LOGIN.search(text))
    if _PASSWORD_FIELD.search(html) and (
        _LOGIN_PATH.search(urlsplit(url).path) or _LOGIN.search(title) or short_and_asks
    ):
        return True
    return short_and_asks and bool(_NOT_FREE.search(html))


def _home_instead_of_deep_link(url: str, requested_url: str) -> bool:
    """A link into a site that ended on that site's home page."""
    if not requested_url or url == requested_url:
        return False
    asked, got = urlsplit(requested_url), urlsplit(url)
    deep = asked.path not in _HOME_PATHS or bool(asked.query)
    home = got.path in _HOME_PATHS and not got.query
    return deep and home and _site(asked.hostname) == _site(got.hostname)


def _site(host: str | None) -> str:
    host = (host or "").lower()
    for prefix in _HOST_PREFIXES:
        if host.startswith(prefix):
            return host[len(prefix) :]
    return host
