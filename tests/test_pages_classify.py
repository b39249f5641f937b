"""The classifiers on the labelled real pages: precision, recall, no real article thrown away.

The labelled pages (tests/fixtures/pages/labelled, README there) and the benchmark's 181
articles go through the whole extraction, as the tap's workers run it; the figures are
those README's pages docs give (bench/extraction.py writes them to bench/results/).
"""

from __future__ import annotations

import pytest

from tap_pocket.pages.classify import verdict

from .pages_data import CLASSIFIED, classifier_scores, verdicts

#: The floors the classifiers must keep on the labelled pages.
MIN_PRECISION = 0.95
MIN_RECALL = 0.9


@pytest.fixture(scope="module")
def scores() -> dict[str, dict[str, float]]:
    return classifier_scores(verdicts())


def test_no_real_article_is_flagged(scores: dict[str, dict[str, float]]) -> None:
    # 181 benchmark pages and 170 Postlight Parser fixtures: a wrong verdict throws a good
    # page away.
    assert scores["article"]["pages"] == 181 + 170
    assert scores["article"]["wrongly_flagged"] == 0


@pytest.mark.parametrize("label", CLASSIFIED)
def test_precision_and_recall(scores: dict[str, dict[str, float]], label: str) -> None:
    score = scores[label]
    assert score["positives"] >= 4, score
    assert score["precision"] >= MIN_PRECISION, score
    assert score["recall"] >= MIN_RECALL, score


@pytest.mark.parametrize(
    ("requested", "final", "code"),
    [
        ("https://www.site.example/2019/05/story", "https://site.example/", "not_article"),
        ("https://site.example/p?id=42", "https://site.example/index.html", "not_article"),
        ("http://m.site.example/news/1", "https://www.site.example/", "not_article"),
        # The home page itself, a shortener's hop, another site's home page: no verdict.
        ("https://site.example/", "https://site.example/", None),
        ("https://t.co/abc123", "https://site.example/", None),
        ("https://old.example/2019/05/story", "https://new.example/", None),
        ("https://site.example/2019/05/story", "https://site.example/2019/05/story/", None),
    ],
)
def test_a_deep_link_sent_to_the_home_page(requested: str, final: str, code: str | None) -> None:
    article = "A paragraph of the article. " * 100
    found = verdict(
        html="<html></html>", title="Home", text=article, url=final, requested_url=requested
    )
    assert found == code


def test_long_texts_that_mention_logins_or_404s_are_articles() -> None:
    text = "How to fix a 404 not found error: sign in, subscribe and log in again. " * 30
    html = f"<html><head><title>Fix a 404 page not found</title></head><body>{text}</body>"
    html += '<input type="password">'
    assert (
        verdict(
            html=html, title="Fix a 404", text=text, url="http://a/b", requested_url="http://a/b"
        )
        is None
    )
