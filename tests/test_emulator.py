"""The Pocket v3 API emulator, over real HTTP on loopback.

What is checked here is what real Pocket did (see the samples' README): string-typed
fields, ``"list": []`` for empty pages, ``since`` syncs with tombstones, X-Error headers,
rate-limit headers, OAuth, plus the emulator's own fault injection.
"""

from __future__ import annotations

import json
import time
import typing as t
from collections import Counter

import pytest
import requests

from pocket_emulator import Account, FakeClock, Faults, PocketEmulator, generate_account

START = 1_700_000_000

#: Fields the real samples carry in list entries, with the type Pocket gave them.
STRING_FIELDS = (
    *("item_id", "resolved_id", "given_url", "given_title", "favorite", "status"),
    *("time_added", "time_updated", "time_read", "time_favorited"),
    *("resolved_title", "resolved_url", "excerpt", "is_article", "is_index", "has_video"),
    *("has_image", "word_count", "lang", "top_image_url", "amp_url"),
)
INT_FIELDS = ("sort_id", "time_to_read", "listen_duration_estimate")
OBJECT_FIELDS = ("tags", "authors", "image", "images", "videos", "domain_metadata")
COMPLETE_ONLY = set(OBJECT_FIELDS)
SAMPLE_FIELDS = {*STRING_FIELDS, *INT_FIELDS, *OBJECT_FIELDS, "annotations"}


# ---------------------------------------------------------------------- fixtures & helpers


@pytest.fixture
def account(clock: FakeClock) -> Account:
    # Smaller than the suite's shared account (conftest.py), whose clock and emulator
    # fixtures serve here too.
    return generate_account(60, seed=1, clock=clock)


@pytest.fixture
def http() -> t.Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def call(
    emu: PocketEmulator, http: requests.Session, path: str = "/v3/get", **params: t.Any
) -> requests.Response:
    """POST ``params`` as JSON, with the emulator's credentials unless overridden."""
    body = {"consumer_key": emu.consumer_key, "access_token": emu.access_token, **params}
    body = {name: value for name, value in body.items() if value is not None}
    return http.post(emu.url + path, json=body, timeout=10)


def get(emu: PocketEmulator, http: requests.Session, **params: t.Any) -> dict[str, t.Any]:
    response = call(emu, http, **params)
    assert response.status_code == 200, response.text
    return t.cast("dict[str, t.Any]", response.json())


def entries(body: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    return list(body["list"].values()) if body["list"] else []


def walk(emu: PocketEmulator, http: requests.Session, count: int, **params: t.Any) -> list[str]:
    """Page through with offset/count until the empty page; the ids in order."""
    ids: list[str] = []
    while True:
        body = get(emu, http, count=count, offset=len(ids), **params)
        if not body["list"]:
            return ids
        assert list(body["list"]) == [e["item_id"] for e in entries(body)]
        ids += list(body["list"])


def assert_error(response: requests.Response, status: int, code: str, error: str) -> None:
    assert response.status_code == status
    assert response.headers["X-Error-Code"] == code
    assert response.headers["X-Error"] == error


# ---------------------------------------------------------------------- listing


def test_empty_page_is_an_empty_list_array(clock: FakeClock, http: requests.Session) -> None:
    with PocketEmulator(Account(clock)) as emu:
        body = get(emu, http)
    assert body == {
        "status": 2,
        "complete": 1,
        "list": [],
        "error": None,
        "search_meta": {"search_type": "normal"},
        "since": START,
        "maxActions": 30,
        "cachetype": "db",
    }


def test_a_page_past_the_end_is_empty_too(emulator: PocketEmulator, http: requests.Session) -> None:
    body = get(emulator, http, offset=1000)
    assert body["list"] == []
    assert body["status"] == 2


def test_paginated_walk_returns_every_live_item_once_newest_first(
    emulator: PocketEmulator, account: Account, http: requests.Session
) -> None:
    ids = walk(emulator, http, count=7)
    assert len(ids) == len(set(ids)) == 60
    assert ids == [raw["item_id"] for raw in account.live_items()]
    added = [int(account.item(i)["time_added"]) for i in ids]
    assert added == sorted(added, reverse=True)
    assert walk(emulator, http, count=9, sort="oldest") == ids[::-1]


def test_sort_id_is_the_position_in_the_page(
    emulator: PocketEmulator, http: requests.Session
) -> None:
    body = get(emulator, http, count=5, offset=10)
    assert [e["sort_id"] for e in entries(body)] == [0, 1, 2, 3, 4]


def test_entries_are_typed_like_the_real_samples(  # noqa: C901 (one walk over every field)
    emulator: PocketEmulator, http: requests.Session
) -> None:
    body = get(emulator, http, count=100, detailType="complete", annotations="1")
    assert body["status"] == 1
    assert body["complete"] == 1
    for entry in entries(body):
        assert set(entry) <= SAMPLE_FIELDS, set(entry) - SAMPLE_FIELDS
        for name in STRING_FIELDS:
            if name in entry and not (name == "lang" and entry[name] is None):
                assert isinstance(entry[name], str), (name, entry[name])
        for name in INT_FIELDS:
            if name in entry:
                assert type(entry[name]) is int, (name, entry[name])
        item_id = entry["item_id"]
        assert item_id.isdigit()
        for name, tag in entry.get("tags", {}).items():
            assert tag == {"item_id": item_id, "tag": name}
        for author_id, author in entry.get("authors", {}).items():
            assert set(author) == {"item_id", "author_id", "name", "url"}
            assert author["author_id"] == author_id
            assert author["item_id"] in (item_id, entry["resolved_id"])
        if "image" in entry:
            assert set(entry["image"]) == {"item_id", "src", "width", "height"}
        for key, image in entry.get("images", {}).items():
            assert image["image_id"] == key
            assert isinstance(image["width"], str)
        for key, video in entry.get("videos", {}).items():
            assert set(video) == {
                "item_id",
                "video_id",
                "src",
                "width",
                "height",
                "type",
                "vid",
                "length",
            }
            assert video["video_id"] == key
        for annotation in entry.get("annotations", []):
            assert set(annotation) == {
                "annotation_id",
                "item_id",
                "quote",
                "patch",
                "version",
                "created_at",
            }
            assert annotation["version"] == "2"
            assert annotation["created_at"].endswith(".000Z")


def test_simple_detail_leaves_out_the_nested_objects(
    emulator: PocketEmulator, http: requests.Session
) -> None:
    simple = entries(get(emulator, http, count=60))
    complete = entries(get(emulator, http, count=60, detailType="complete"))
    assert not any(COMPLETE_ONLY & set(entry) for entry in simple)
    assert any(COMPLETE_ONLY & set(entry) for entry in complete)
    for short, full in zip(simple, complete, strict=True):
        assert short == {k: v for k, v in full.items() if k not in COMPLETE_ONLY}


def test_generated_accounts_show_the_quirks_of_real_data() -> None:
    items = generate_account(300, seed=0).live_items(annotations=True)
    counts: Counter[str] = Counter()
    for raw in items:
        counts["archived"] += raw["status"] == "1"
        counts["favorite"] += raw["favorite"] == "1"
        counts["untagged"] += not raw.get("tags")
        counts["empty tags object"] += raw.get("tags") == {}
        counts["tag with space"] += any(" " in tag for tag in raw.get("tags", {}))
        counts["non-ASCII tag"] += any(not tag.isascii() for tag in raw.get("tags", {}))
        counts["no time_to_read"] += "time_to_read" not in raw
        counts["junk time_read"] += raw["time_read"] == "2020"
        counts["empty lang"] += raw["lang"] == ""
        counts["is a video"] += raw["has_video"] == "2"
        counts["is an image"] += raw["has_image"] == "2"
        counts["authors"] += "authors" in raw
        counts["images"] += "images" in raw
        counts["videos"] += "videos" in raw
        counts["domain_metadata"] += "domain_metadata" in raw
        counts["amp_url"] += "amp_url" in raw
        counts["redirected"] += raw["resolved_id"] != raw["item_id"]
        counts["emoji title"] += any(ord(c) > 0xFFFF for c in raw["resolved_title"])
        counts["&amp; title"] += "&amp;" in raw["resolved_title"]
        counts["empty given_title"] += raw["given_title"] == ""
        counts["highlighted"] += "annotations" in raw
    assert 0.3 < counts["archived"] / len(items) < 0.5
    assert 0.05 < counts["highlighted"] / len(items) < 0.16
    assert counts["authors"] > len(items) / 2
    assert counts["junk time_read"] == counts["amp_url"] == 1
    missing = [quirk for quirk, count in counts.items() if count == 0]
    assert not missing
    assert len(counts) == 21


def test_generation_is_deterministic() -> None:
    first = generate_account(40, seed=5).live_items(annotations=True)
    assert generate_account(40, seed=5).live_items(annotations=True) == first
    assert generate_account(40, seed=6).live_items() != generate_account(40, seed=5).live_items()


def test_changing_an_item_keeps_its_other_fields(
    emulator: PocketEmulator, account: Account, http: requests.Session
) -> None:
    """A generated item, once changed, is served from its own dict: same JSON as before."""
    before = get(emulator, http, count=60, detailType="complete", annotations="1")
    for raw in account.live_items()[::7]:
        account.overwrite_fields(raw["item_id"])  # changes nothing, but materializes it
    assert get(emulator, http, count=60, detailType="complete", annotations="1") == before


# ---------------------------------------------------------------------- filters


def test_state_favorite_tag_and_content_type_filters(
    emulator: PocketEmulator, account: Account, http: requests.Session
) -> None:
    live = account.live_items()

    def ids(**params: t.Any) -> set[str]:
        return set(get(emulator, http, count=5000, **params)["list"] or [])

    def expected(test: t.Callable[[dict[str, t.Any]], bool]) -> set[str]:
        return {raw["item_id"] for raw in live if test(raw)}

    assert ids(state="unread") == ids(state="queue") == expected(lambda r: r["status"] == "0")
    assert ids(state="archive") == ids(state="read") == expected(lambda r: r["status"] == "1")
    assert ids(state="all") == ids() == expected(lambda _: True)
    assert ids(favorite="1") == ids(favorite=1) == expected(lambda r: r["favorite"] == "1")
    assert ids(favorite="0") == expected(lambda r: r["favorite"] == "0")
    assert ids(tag="_untagged_") == expected(lambda r: not r.get("tags"))
    assert ids(tag="python") == expected(lambda r: "python" in r.get("tags", {}))
    assert ids(tag="no such tag") == set()
    assert ids(contentType="article") == expected(lambda r: r["is_article"] == "1")
    assert ids(contentType="video") == expected(lambda r: r["has_video"] in ("1", "2"))
    assert ids(contentType="image") == expected(lambda r: r["has_image"] == "2")
    assert ids(state="unread", favorite="0", tag="_untagged_") == expected(
        lambda r: r["status"] == "0" and r["favorite"] == "0" and not r.get("tags")
    )


def test_search_matches_titles_and_urls_and_domain_narrows_it(
    emulator: PocketEmulator, account: Account, http: requests.Session
) -> None:
    url = account.live_items()[0]["given_url"]
    item_id = account.add_item(url.replace("https://", "https://blog."), title="Zebra Crossing")
    assert set(get(emulator, http, search="zEBRA")["list"]) == {item_id}
    host = url.split("/")[2]
    by_url = set(get(emulator, http, search=host, count=5000)["list"])
    assert item_id in by_url
    assert len(by_url) > 1
    narrowed = set(get(emulator, http, search="zebra", domain="nowhere.example")["list"] or [])
    assert narrowed == set()
    assert set(get(emulator, http, search="zebra", domain=host)["list"]) == {item_id}
    # Without a search, Pocket ignored domain.
    assert len(get(emulator, http, domain="nowhere.example", count=5000)["list"]) == 61


def test_total_counts_every_match_as_a_string(
    emulator: PocketEmulator, http: requests.Session
) -> None:
    body = get(emulator, http, count=3, total="1", state="archive")
    assert len(body["list"]) == 3
    assert body["total"] == str(len(get(emulator, http, count=5000, state="archive")["list"]))
    assert "total" not in get(emulator, http, count=3)


def test_annotations_come_only_when_asked(
    emulator: PocketEmulator, account: Account, http: requests.Session
) -> None:
    item_id = account.live_items()[0]["item_id"]
    annotation_id = account.add_highlight(item_id, "a passage worth keeping")
    plain = get(emulator, http, count=60, detailType="complete")
    assert not any("annotations" in entry for entry in entries(plain))
    body = get(emulator, http, count=60, annotations="1")
    annotated = [entry for entry in entries(body) if "annotations" in entry]
    assert 3 <= len(annotated) < 20
    (added,) = [a for a in body["list"][item_id]["annotations"] if a["quote"].startswith("a pass")]
    assert added["annotation_id"] == annotation_id
    assert added["item_id"] == item_id
    assert added["created_at"] == "2023-11-14T22:13:20.000Z"


# ---------------------------------------------------------------------- since syncs


def test_since_sync_returns_changes_and_tombstones(
    emulator: PocketEmulator, account: Account, clock: FakeClock, http: requests.Session
) -> None:
    first = get(emulator, http, count=5000)
    assert first["since"] == START
    clock.advance(60)
    ids = list(first["list"])
    account.update_item(ids[5], given_title="Renamed", favorite=1, tags=["new tag"])
    account.archive_item(ids[6])
    account.delete_item(ids[7])
    account.hide_item(ids[8])
    added = account.add_item("https://example.com/new", title="New")
    clock.advance(5)

    body = get(emulator, http, since=first["since"], count=5000, detailType="complete")

    assert body["complete"] == 0
    assert body["since"] == START + 65
    assert set(body["list"]) == {ids[5], ids[6], ids[7], ids[8], added}
    changed = body["list"]
    assert changed[ids[5]]["given_title"] == "Renamed"
    assert changed[ids[5]]["favorite"] == "1"
    assert changed[ids[5]]["time_favorited"] == str(START + 60)
    assert changed[ids[5]]["tags"] == {"new tag": {"item_id": ids[5], "tag": "new tag"}}
    assert changed[ids[5]]["time_updated"] == str(START + 60)
    assert changed[ids[6]]["status"] == "1"
    assert changed[ids[6]]["time_read"] == str(START + 60)
    assert changed[ids[7]] == {"item_id": ids[7], "status": "2", "listen_duration_estimate": 0}
    assert changed[ids[8]] == {"item_id": ids[8], "status": "3", "listen_duration_estimate": 0}
    assert changed[added]["given_url"] == "https://example.com/new"
    # Without since, deleted and hidden items are simply gone.
    assert set(get(emulator, http, count=5000)["list"]) == set(ids) - {ids[7], ids[8]} | {added}
    assert account.deleted_ids() == {ids[7], ids[8]}


def test_since_with_a_state_filter_still_reports_deletions(
    emulator: PocketEmulator, account: Account, clock: FakeClock, http: requests.Session
) -> None:
    archived = [raw["item_id"] for raw in account.live_items() if raw["status"] == "1"]
    clock.advance(10)
    account.delete_item(archived[0])
    body = get(emulator, http, since=START + 10, state="unread", count=5000)
    assert body["list"] == {
        archived[0]: {"item_id": archived[0], "status": "2", "listen_duration_estimate": 0}
    }


def test_since_sync_pages_are_stable_and_keep_tombstones_in_place(
    emulator: PocketEmulator, account: Account, clock: FakeClock, http: requests.Session
) -> None:
    ids = [raw["item_id"] for raw in account.live_items()]
    clock.advance(1)
    for item_id in ids[::3]:
        account.update_item(item_id, given_title="touched")
    for item_id in ids[1::6]:
        account.delete_item(item_id)
    paged = walk(emulator, http, count=4, since=START + 1)
    expected = [i for i in ids if i in set(ids[::3]) | set(ids[1::6])]
    assert paged == expected  # newest first by time_added, tombstones included


def test_since_zero_means_no_since(emulator: PocketEmulator, http: requests.Session) -> None:
    body = get(emulator, http, since=0, count=1)
    assert body["complete"] == 1


def test_date_header_and_since_follow_the_account_clock(
    emulator: PocketEmulator, clock: FakeClock, http: requests.Session
) -> None:
    clock.advance(3600)
    response = call(emulator, http, count=1)
    assert response.headers["Date"] == "Tue, 14 Nov 2023 23:13:20 GMT"
    assert response.json()["since"] == START + 3600
    assert call(emulator, http, access_token="wrong").headers["Date"] == response.headers["Date"]


# ---------------------------------------------------------------------- errors and limits


def test_missing_consumer_key(emulator: PocketEmulator, http: requests.Session) -> None:
    response = call(emulator, http, consumer_key=None)
    assert_error(response, 400, "138", "Missing consumer key.")
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text == "400 Bad Request"


def test_invalid_consumer_key(emulator: PocketEmulator, http: requests.Session) -> None:
    response = call(emulator, http, consumer_key="someone-else")
    assert_error(response, 403, "152", "Invalid consumer key.")
    assert response.text == "403 Forbidden"


@pytest.mark.parametrize("token", [None, "", "not-the-token"])
def test_missing_or_invalid_access_token(
    emulator: PocketEmulator, http: requests.Session, token: str | None
) -> None:
    response = call(emulator, http, access_token=token)
    assert_error(
        response,
        401,
        "107",
        "A valid access token is required to access the requested API endpoint.",
    )
    assert response.text == "401 Unauthorized"
    assert response.headers["Content-Length"] == "16"  # as in the real capture
    assert "X-Limit-Key-Limit" in response.headers
    assert "X-Limit-User-Limit" not in response.headers  # no user, no user budget


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("count", 0),
        ("count", 5001),
        ("count", "ten"),
        ("count", "2.5"),
        ("offset", -1),
        ("state", "unarchived"),
        ("detailType", "full"),
        ("contentType", "pdf"),
        ("sort", "title"),
        ("sort", "site"),
        ("since", "yesterday"),
        ("since", -5),
        ("favorite", "yes"),
        ("total", True),
        ("annotations", "2"),
        ("tag", ""),
    ],
)
def test_bad_parameter_values_are_rejected_naming_the_parameter(
    emulator: PocketEmulator, http: requests.Session, name: str, value: t.Any
) -> None:
    response = call(emulator, http, **{name: value})
    assert_error(response, 400, "130", "Bad request")
    error = response.json()["error"]
    assert json.loads(error.removeprefix("Invalid value: ")) == {
        "location": "body",
        "path": name,
        "type": "field",
        "value": value,
    }


def test_accepted_parameter_spellings(emulator: PocketEmulator, http: requests.Session) -> None:
    for params in (
        {"count": "5000"},
        {"sort": "OLDEST"},
        {"sort": "relevance"},
        {"detailType": "Complete"},
        {"favorite": 0},
        {"since": "1690000000"},
        {"count": 5.0},
    ):
        assert call(emulator, http, **params).status_code == 200, params


def test_parameters_in_the_query_string_or_a_form_work_too(
    emulator: PocketEmulator, http: requests.Session
) -> None:
    credentials = {"consumer_key": emulator.consumer_key, "access_token": emulator.access_token}
    by_query = http.get(f"{emulator.url}/v3/get", params={**credentials, "count": "2"}, timeout=5)
    by_form = http.post(f"{emulator.url}/v3/get", data={**credentials, "count": "2"}, timeout=5)
    assert by_query.json()["list"] == by_form.json()["list"]
    assert len(by_query.json()["list"]) == 2
    bad = http.get(f"{emulator.url}/v3/get", params={**credentials, "count": "0"}, timeout=5)
    assert json.loads(bad.json()["error"].removeprefix("Invalid value: "))["location"] == "query"


def test_rate_limit_headers_count_down(emulator: PocketEmulator, http: requests.Session) -> None:
    first, second = call(emulator, http), call(emulator, http)
    for response, used in ((first, 1), (second, 2)):
        assert response.headers["X-Limit-Key-Limit"] == "10000"
        assert response.headers["X-Limit-Key-Remaining"] == str(10000 - used)
        assert response.headers["X-Limit-User-Limit"] == "320"
        assert response.headers["X-Limit-User-Remaining"] == str(320 - used)
        assert 3590 <= int(response.headers["X-Limit-User-Reset"]) <= 3600
        assert 3590 <= int(response.headers["X-Limit-Key-Reset"]) <= 3600
    bad = call(emulator, http, count=0)
    assert bad.headers["X-Limit-User-Remaining"] == "317"


def test_exhausted_user_budget_is_a_403(account: Account, http: requests.Session) -> None:
    with PocketEmulator(account, user_limit=2) as emu:
        assert [call(emu, http).status_code for _ in range(2)] == [200, 200]
        response = call(emu, http)
    assert_error(response, 403, "5200", "User rate limit exceeded")
    assert response.headers["X-Limit-User-Remaining"] == "0"
    assert int(response.headers["X-Limit-User-Reset"]) > 3500


def test_unknown_paths_and_methods(emulator: PocketEmulator, http: requests.Session) -> None:
    assert http.post(f"{emulator.url}/v3/nothing", timeout=5).status_code == 404
    assert http.delete(f"{emulator.url}/v3/get", timeout=5).status_code == 501
    assert http.get(f"{emulator.url}/v3/oauth/request", timeout=5).status_code == 405


# ---------------------------------------------------------------------- plumbing


def test_requests_are_recorded_with_their_credentials(
    emulator: PocketEmulator, http: requests.Session
) -> None:
    call(emulator, http, count=3)
    http.get(f"{emulator.url}/v3/get?consumer_key=k&count=1", timeout=5)
    (method, path, params), second = emulator.requests
    assert (method, path) == ("POST", "/v3/get")
    assert params == {
        "consumer_key": emulator.consumer_key,
        "access_token": emulator.access_token,
        "count": 3,
    }
    assert second == ("GET", "/v3/get", {"consumer_key": "k", "count": "1"})
    assert emulator.request_headers[0]["content-type"] == "application/json"


def test_connections_are_kept_alive(emulator: PocketEmulator, http: requests.Session) -> None:
    responses = [call(emulator, http, count=1) for _ in range(3)]
    assert all(r.raw.version == 11 for r in responses)
    assert all(r.headers.get("Connection", "").lower() != "close" for r in responses)
    assert responses[0].headers["Content-Length"] == str(len(responses[0].content))


def test_close_stops_the_server(account: Account, http: requests.Session) -> None:
    emu = PocketEmulator(account)
    call(emu, http)
    emu.close()
    emu.close()
    with pytest.raises(requests.ConnectionError):
        call(emu, http)


def test_a_5000_item_complete_page_is_served_whole(http: requests.Session) -> None:
    """The largest page Pocket served; how fast it comes is bench/timings.py's (< 1 s)."""
    with PocketEmulator(generate_account(6000)) as emu:
        body = get(emu, http, count=5000, detailType="complete")
    assert len(body["list"]) == 5000
    assert len({entry["item_id"] for entry in body["list"].values()}) == 5000


# ---------------------------------------------------------------------- account helpers


def test_account_mutations_stamp_time_updated(account: Account, clock: FakeClock) -> None:
    clock.advance(100)
    item_id = account.add_item("https://example.com/a", title="A", tags=["x y", "ünï"], lang="")
    raw = account.item(item_id)
    others = [int(r["item_id"]) for r in account.live_items() if r["item_id"] != item_id]
    assert int(item_id) > max(others)
    assert raw["time_added"] == raw["time_updated"] == str(START + 100)
    assert raw["status"] == "0"
    assert raw["lang"] == ""
    assert raw["tags"] == {t_: {"item_id": item_id, "tag": t_} for t_ in ("x y", "ünï")}
    clock.advance(5)
    account.update_item(item_id, favorite=True, word_count=42)
    raw = account.item(item_id)
    assert raw["favorite"] == "1"
    assert raw["word_count"] == "42"
    assert raw["time_updated"] == raw["time_favorited"] == str(START + 105)
    clock.advance(5)
    account.add_highlight(item_id, "quote")
    assert account.item(item_id)["time_updated"] == str(START + 110)
    assert account.item(item_id, annotations=True)["annotations"][0]["quote"] == "quote"
    assert "annotations" not in account.item(item_id)
    account.delete_item(item_id)
    assert account.item(item_id)["status"] == "2"
    assert item_id not in {raw["item_id"] for raw in account.live_items()}
    assert account.live_count() == 60
    with pytest.raises(KeyError):
        account.item("12345")
    with pytest.raises(ValueError, match="already exists"):
        account.add_item("https://example.com/b", item_id=item_id)


def test_an_explicit_older_item_sorts_into_place(account: Account) -> None:
    oldest = account.live_items()[-1]
    item_id = account.add_item(
        "https://example.com/old", item_id="1234", time_added=int(oldest["time_added"]) - 1
    )
    live = account.live_items()
    assert live[-1]["item_id"] == item_id
    assert account.item("1234")["given_url"] == "https://example.com/old"


def test_fake_clock_moves_only_when_advanced() -> None:
    clock = FakeClock()
    assert clock() == clock() == START
    assert clock.advance(30) == START + 30 == clock()
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-1)


# ---------------------------------------------------------------------- faults


def test_fail_first(emulator: PocketEmulator, http: requests.Session) -> None:
    emulator.faults = Faults().fail_first(2)
    first, second, third = (call(emulator, http) for _ in range(3))
    for response in (first, second):
        assert_error(response, 503, "199", "Pocket server issue")
        assert "X-Limit-Key-Remaining" in response.headers
    assert third.status_code == 200


def test_fail_first_with_a_chosen_error(emulator: PocketEmulator, http: requests.Session) -> None:
    emulator.faults = Faults.fail_first(
        1, status=500, error_code="198", error="Internal Server Error"
    )
    assert_error(call(emulator, http), 500, "198", "Internal Server Error")
    assert call(emulator, http).status_code == 200


def test_reset_every(emulator: PocketEmulator, http: requests.Session) -> None:
    emulator.faults = Faults.reset_every(2)
    assert call(emulator, http).status_code == 200
    with pytest.raises(requests.ConnectionError):
        call(emulator, http)
    assert call(emulator, http).status_code == 200


def test_truncate_every(emulator: PocketEmulator, http: requests.Session) -> None:
    emulator.faults = Faults.truncate_every(2)
    whole = call(emulator, http, count=10)
    cut = call(emulator, http, count=10)
    assert cut.status_code == 200
    assert cut.content == whole.content[: len(whole.content) // 2]
    with pytest.raises(requests.JSONDecodeError):
        cut.json()


def test_non_json_every(emulator: PocketEmulator, http: requests.Session) -> None:
    emulator.faults = Faults.non_json_every(1)
    response = call(emulator, http)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")


def test_slow(emulator: PocketEmulator, http: requests.Session) -> None:
    emulator.faults = Faults.slow(0.2)
    started = time.perf_counter()
    assert call(emulator, http).status_code == 200
    assert time.perf_counter() - started >= 0.2


def test_user_limit_with_a_short_window(emulator: PocketEmulator, http: requests.Session) -> None:
    emulator.faults = Faults.user_limit(2, reset_seconds=1)
    assert [call(emulator, http).status_code for _ in range(2)] == [200, 200]
    limited = call(emulator, http)
    assert_error(limited, 403, "5200", "User rate limit exceeded")
    assert limited.headers["X-Limit-User-Remaining"] == "0"
    assert limited.headers["X-Limit-User-Limit"] == "2"
    reset = int(limited.headers["X-Limit-User-Reset"])
    assert reset == 1
    time.sleep(reset)
    again = call(emulator, http)
    assert again.status_code == 200
    assert again.headers["X-Limit-User-Remaining"] == "1"


def test_mutate_after(
    emulator: PocketEmulator, account: Account, clock: FakeClock, http: requests.Session
) -> None:
    calls: list[Account] = []

    def delete_newest(changed: Account) -> None:
        time.sleep(0.05)  # a slow change still happens before the next request is served
        calls.append(changed)
        clock.advance(1)
        changed.delete_item(changed.live_items()[0]["item_id"])

    newest = account.live_items()[0]["item_id"]
    emulator.faults = Faults().mutate_after(1, delete_newest)
    first = get(emulator, http, count=1)
    assert list(first["list"]) == [newest]  # answered before the change
    with requests.Session() as other_connection:
        second = get(emulator, other_connection, count=1)
    assert list(second["list"]) != [newest]
    get(emulator, http, count=1)
    assert calls == [account]


def test_faults_can_be_combined_and_replaced(
    emulator: PocketEmulator, http: requests.Session
) -> None:
    emulator.faults = Faults().fail_first(1).non_json_every(3)
    statuses = [call(emulator, http) for _ in range(3)]
    assert [r.status_code for r in statuses] == [503, 200, 200]
    assert statuses[2].text.startswith("<!DOCTYPE html>")
    emulator.faults = Faults().fail_first(1)  # counting starts again
    assert call(emulator, http).status_code == 503
    emulator.faults = Faults()
    assert call(emulator, http).status_code == 200


# ---------------------------------------------------------------------- OAuth


def oauth(
    emu: PocketEmulator,
    http: requests.Session,
    path: str,
    *,
    json_reply: bool = False,
    **params: t.Any,
) -> requests.Response:
    headers = {"X-Accept": "application/json"} if json_reply else {}
    return http.post(f"{emu.url}/v3/oauth/{path}", json=params, headers=headers, timeout=5)


def approve(emu: PocketEmulator, http: requests.Session, code: str) -> requests.Response:
    return http.get(
        f"{emu.url}/auth/authorize",
        params={"request_token": code, "redirect_uri": "http://localhost:9/done"},
        allow_redirects=False,
        timeout=5,
    )


def request_code(emu: PocketEmulator, http: requests.Session) -> str:
    response = oauth(
        emu,
        http,
        "request",
        json_reply=True,
        consumer_key=emu.consumer_key,
        redirect_uri="http://localhost:9/done",
    )
    return t.cast("str", response.json()["code"])


def test_oauth_happy_path_form_encoded(emulator: PocketEmulator, http: requests.Session) -> None:
    response = oauth(
        emulator,
        http,
        "request",
        consumer_key=emulator.consumer_key,
        redirect_uri="http://localhost:9/done",
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert response.text.startswith("code=")
    code = response.text.removeprefix("code=")

    redirect = approve(emulator, http, code)
    assert redirect.status_code == 302
    assert redirect.headers["Location"] == "http://localhost:9/done"

    granted = oauth(emulator, http, "authorize", consumer_key=emulator.consumer_key, code=code)
    assert granted.status_code == 200
    assert granted.headers["Content-Type"] == "application/x-www-form-urlencoded"
    fields = dict(pair.split("=", 1) for pair in granted.text.split("&"))
    assert fields["username"] == "emulator-user"
    assert call(emulator, http, access_token=fields["access_token"]).status_code == 200


def test_oauth_happy_path_json(emulator: PocketEmulator, http: requests.Session) -> None:
    response = oauth(
        emulator,
        http,
        "request",
        json_reply=True,
        consumer_key=emulator.consumer_key,
        redirect_uri="app://x",
        state="s1",
    )
    assert response.json() == {"code": response.json()["code"], "state": "s1"}
    code = response.json()["code"]
    assert approve(emulator, http, code).status_code == 302
    granted = oauth(
        emulator, http, "authorize", json_reply=True, consumer_key=emulator.consumer_key, code=code
    )
    body = granted.json()
    assert set(body) == {"access_token", "username"}
    assert call(emulator, http, access_token=body["access_token"]).status_code == 200


def test_oauth_request_errors(emulator: PocketEmulator, http: requests.Session) -> None:
    assert_error(
        oauth(emulator, http, "request", redirect_uri="app://x"),
        400,
        "138",
        "Missing consumer key.",
    )
    refused = oauth(emulator, http, "request", consumer_key="nope", redirect_uri="app://x")
    assert_error(refused, 403, "152", "Invalid consumer key.")
    assert refused.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert refused.text == "403 Forbidden"
    assert_error(
        oauth(emulator, http, "request", consumer_key=emulator.consumer_key),
        400,
        "140",
        "Missing redirect url.",
    )


def test_oauth_authorize_errors(emulator: PocketEmulator, http: requests.Session) -> None:
    key = emulator.consumer_key
    code = request_code(emulator, http)
    assert_error(
        oauth(emulator, http, "authorize", consumer_key="nope", code=code),
        403,
        "152",
        "Invalid consumer key.",
    )
    assert_error(oauth(emulator, http, "authorize", code=code), 400, "138", "Missing consumer key.")
    assert_error(oauth(emulator, http, "authorize", consumer_key=key), 400, "182", "Missing code.")
    missing = oauth(emulator, http, "authorize", consumer_key=key, code="no-such-code")
    assert_error(missing, 400, "185", "Code not found.")
    assert missing.text == "400 Bad Request"
    # Not approved by the user yet: Pocket answered as if rejected.
    assert_error(
        oauth(emulator, http, "authorize", consumer_key=key, code=code),
        403,
        "158",
        "User rejected code.",
    )
    approve(emulator, http, code)
    assert oauth(emulator, http, "authorize", consumer_key=key, code=code).status_code == 200
    assert_error(
        oauth(emulator, http, "authorize", consumer_key=key, code=code),
        403,
        "159",
        "Code has already been used.",
    )


def test_oauth_user_who_rejects(account: Account, http: requests.Session) -> None:
    with PocketEmulator(account, oauth_user_rejects=True) as emu:
        code = request_code(emu, http)
        redirect = approve(emu, http, code)
        assert redirect.status_code == 302  # back to the app either way
        response = oauth(emu, http, "authorize", consumer_key=emu.consumer_key, code=code)
    assert_error(response, 403, "158", "User rejected code.")


def test_oauth_approval_of_an_unknown_token(
    emulator: PocketEmulator, http: requests.Session
) -> None:
    assert approve(emulator, http, "no-such-token").status_code == 400
