"""The shipped sources.yaml: it loads, its themes are complete, and it does not copy the dev set."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.core.config import Settings, load_settings
from bot.core.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
ITEMS = SHARED / "eval" / "items.jsonl"
THEMES = ("llm", "multimodal", "world_models", "bidding", "people_moves", "other")


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(REPO_ROOT / "sources.yaml")


def test_loads_with_sources_of_both_kinds(settings):
    kinds = {source.kind for source in settings.sources}
    assert kinds == {"rss", "arxiv"}
    assert len([s for s in settings.sources if s.enabled]) >= 20


def test_exactly_the_six_themes(settings):
    assert tuple(settings.themes) == THEMES


@pytest.mark.parametrize("name", THEMES)
def test_theme_is_described_in_both_languages(settings, name):
    theme = settings.themes[name]
    assert len(theme.description) > 40
    assert len(theme.keywords.en) >= 5
    assert len(theme.keywords.zh) >= 5
    assert all(_has_cjk(word) for word in theme.keywords.zh), "zh keywords should be Chinese"
    assert not any(_has_cjk(word) for word in theme.keywords.en), "en keywords should be English"
    assert 4 <= len(theme.examples) <= 8
    languages = {"zh" if _has_cjk(example) else "en" for example in theme.examples}
    assert languages == {"en", "zh"}, "examples should mix English and Chinese headlines"


def test_enabled_rss_sources_have_http_urls(settings):
    for source in settings.sources:
        if source.kind == "rss" and source.enabled:
            assert urlsplit(source.url or "").scheme in ("http", "https"), source.name
        if source.fallback_url:
            assert urlsplit(source.fallback_url).scheme in ("http", "https"), source.name


def test_arxiv_sources_have_queries(settings):
    arxiv = [s for s in settings.sources if s.kind == "arxiv"]
    assert len(arxiv) >= 4
    for source in arxiv:
        assert source.query and "cat:" in source.query, source.name
        assert source.query.count("(") == source.query.count(")"), source.name
        assert settings.interval(source).total_seconds() >= 3600, "arXiv updates daily; poll gently"


def test_chinese_media_are_present_and_bridged_sources_are_not_dropped(settings):
    chinese = [s for s in settings.sources if s.lang == "zh"]
    assert len([s for s in chinese if s.enabled]) >= 5
    xinzhiyuan = settings.source("xinzhiyuan")
    assert not xinzhiyuan.enabled
    assert "needs_bridge" in xinzhiyuan.tags


def test_theme_examples_are_not_copied_from_the_dev_set(settings):
    if not ITEMS.is_file():
        pytest.skip(f"labeled set not found at {ITEMS}")
    with ITEMS.open(encoding="utf-8") as handle:
        titles = {json.loads(line)["title"].strip().lower() for line in handle if line.strip()}
    for name, theme in settings.themes.items():
        for example in theme.examples:
            assert example.strip().lower() not in titles, f"{name}: example copies a dev-set title"
            assert not any(example.strip().lower() in title for title in titles), name


def test_a_scope_on_a_named_theme_is_a_clear_config_error(tmp_path: Path) -> None:
    """`scope` is read on `other` alone; written on another theme it would do nothing, so it is refused."""
    config = tmp_path / "sources.yaml"
    config.write_text("themes:\n  llm:\n    description: language models\n    scope: {en: [AI]}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="`scope` belongs on the `other` theme only"):
        load_settings(config)
