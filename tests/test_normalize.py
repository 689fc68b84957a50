"""normalize: what makes two copies of one entry look the same."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.core.models import RawEntry
from bot.ingest.normalize import (
    arxiv_id_from_url,
    canonical_url,
    content_hash,
    detect_language,
    html_to_text,
    normalize,
)

FETCHED = datetime(2024, 12, 5, 12, 0, tzinfo=UTC)


def entry(**fields) -> RawEntry:
    base = {"source": "test", "title": "A title", "link": "https://example.com/a", "fetched_at": FETCHED}
    return RawEntry(**(base | fields))


def test_html_to_text_drops_scripts_styles_and_decodes_entities():
    html = (
        "<div><script>alert(1)</script><style>p{color:red}</style>"
        "<p>Gemini&nbsp;2.0 &amp; agents</p><p>谷歌发布&lt;新模型&gt;</p><noscript>x</noscript></div>"
    )
    assert html_to_text(html) == "Gemini 2.0 & agents\n谷歌发布<新模型>"


def test_html_to_text_plain_text_passes_through_collapsed():
    assert html_to_text("  already   plain\u3000text ") == "already plain text"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "HTTPS://WWW.Example.COM:443/post?id=7&utm_source=rss&utm_medium=feed#comments",
            "https://www.example.com/post?id=7",
        ),
        ("http://example.com", "http://example.com/"),
        ("https://36kr.com/p/123?spm=a2c4&fbclid=abc&page=2", "https://36kr.com/p/123?page=2"),
        ("https://example.com:8080/x", "https://example.com:8080/x"),
    ],
)
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://arxiv.org/abs/2412.01234v3", ("2412.01234", 3)),
        ("https://arxiv.org/pdf/2301.04104", ("2301.04104", 0)),
        ("oai:arXiv.org:hep-ex/0101001v1 http://arxiv.org/abs/hep-ex/0101001v1", ("hep-ex/0101001", 1)),
        ("https://openai.com/index/sora/", ("", 0)),
    ],
)
def test_arxiv_id_from_url(url, expected):
    assert arxiv_id_from_url(url) == expected


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("OpenAI 发布 GPT-4o，支持实时语音对话", "zh"),
        ("DeepMind DreamerV3：首个从零开始在《我的世界》中挖到钻石的算法", "zh"),
        ("Former Tesla AI chief Andrej Karpathy is rejoining OpenAI", "en"),
        ("翟晓华 (Xiaohua Zhai) and two colleagues join OpenAI's new Zurich office from Google DeepMind", "en"),
        ("大規模言語モデルの新しい評価方法", "ja"),
        ("12345", "other"),
    ],
)
def test_detect_language(text, lang):
    assert detect_language(text) == lang


def test_normalize_item_fields():
    item = normalize(
        entry(
            title="<b>Llama 3</b> 发布",
            link="https://www.jiqizhixin.com/articles/1?utm_source=feed",
            summary_html="<p>Meta 开源了 Llama&nbsp;3 系列模型。</p>",
            published=datetime(2024, 4, 19, 8, 0, tzinfo=timezone(timedelta(hours=8))),
            guid=" abc ",
        )
    )
    assert item.title == "Llama 3 发布"
    assert item.text == "Meta 开源了 Llama 3 系列模型。"
    assert item.url == "https://www.jiqizhixin.com/articles/1"
    assert item.lang == "zh"
    assert item.published == datetime(2024, 4, 19, 0, 0, tzinfo=UTC)
    assert not item.published_estimated
    assert item.guid == "abc"


def test_missing_or_future_date_falls_back_to_fetch_time_and_is_flagged():
    assert normalize(entry()).published == FETCHED
    assert normalize(entry()).published_estimated
    future = normalize(entry(published=FETCHED + timedelta(days=30)))
    assert future.published == FETCHED and future.published_estimated
    updated_only = normalize(entry(updated=FETCHED - timedelta(hours=3)))
    assert updated_only.published == FETCHED - timedelta(hours=3) and not updated_only.published_estimated


def test_arxiv_link_becomes_versionless_abs_url():
    item = normalize(entry(link="http://arxiv.org/abs/2412.01234v2"))
    assert (item.arxiv_id, item.arxiv_version, item.url) == ("2412.01234", 2, "https://arxiv.org/abs/2412.01234")
    assert item.identities()[0] == "arxiv:2412.01234"


def test_content_hash_ignores_markup_spacing_and_case():
    a = normalize(entry(title="Sora  is here", summary_html="<p>Text-to-video</p>"))
    b = normalize(entry(title="sora is here", summary_html="Text-to-video "))
    assert a.content_hash == b.content_hash
    assert content_hash("Sora is here", "x") != content_hash("Sora is here", "y")


def test_oversized_title_is_capped():
    item = normalize(entry(title="x" * 2_000_000))
    assert len(item.title) == 1000


def test_entry_without_link_or_guid_is_keyed_by_content():
    item = normalize(entry(link="", title="Only a title"))
    assert item.identities() == [f"hash:test:{item.content_hash}"]
