"""OPML import/export: duplicates judged canonically, names and tags derived, hostile XML refused."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.core.config import SourceConfig, resolve_paths
from bot.ingest.opml import Feed, OpmlError, parse_opml, plan_import, render_opml, source_name
from bot.ingest.overlay import load_overlay

REPO = Path(__file__).resolve().parents[1]

CONFIG = """\
sources:
  - name: openai
    kind: rss
    url: https://openai.com/news/rss.xml
    tags: [lab]
  - name: jiqizhixin
    kind: rss
    url: https://www.jiqizhixin.com/rss
    title: 机器之心
    tags: [cn_media]
  - name: arxiv_ai
    kind: arxiv
    query: cat:cs.AI
"""

OPML = """\
<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>My subscriptions</title></head>
  <body>
    <outline text="Labs" title="Labs">
      <outline type="rss" text="OpenAI News" title="OpenAI News"
               xmlUrl="http://OpenAI.com/news/rss.xml?utm_source=feedly&amp;utm_medium=rss"/>
      <outline text="Research">
        <outline type="rss" text="DeepMind Blog" title="DeepMind Blog" xmlUrl="https://deepmind.google/blog/rss.xml"
                 htmlUrl="https://deepmind.google/blog/"/>
      </outline>
    </outline>
    <outline type="rss" text="Old FTP feed" xmlUrl="ftp://example.org/feed.xml"/>
    <outline type="rss" title="openai" xmlUrl="https://example.com/another-openai.xml"/>
    <outline type="rss" text="量子位" xmlUrl="https://www.qbitai.com/feed"/>
  </body>
</opml>
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def setup(tmp_path: Path) -> tuple[list[str], Path]:
    config = tmp_path / "sources.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    data = tmp_path / "data"
    return ["--config", str(config), "--data-dir", str(data)], data


def import_json(capsys: pytest.CaptureFixture[str], base: list[str], opml: Path) -> tuple[int, dict]:
    code, out, _ = run(capsys, *base, "sources", "import-opml", str(opml), "--json")
    return code, json.loads(out) if out else {}


def test_import_merges_new_feeds_into_the_overlay(capsys, setup, tmp_path):
    base, data = setup
    config_before = Path(base[1]).read_text(encoding="utf-8")
    opml = tmp_path / "subs.opml"
    opml.write_text(OPML, encoding="utf-8")

    code, report = import_json(capsys, base, opml)
    assert code == 0
    assert (report["imported"], report["skipped"], report["invalid"]) == (3, 1, 1)
    assert report["invalid_feeds"][0]["url"] == "ftp://example.org/feed.xml"
    added = {source.url: source for source in load_overlay(resolve_paths(data))}
    assert set(added) == {
        "https://deepmind.google/blog/rss.xml",
        "https://example.com/another-openai.xml",
        "https://www.qbitai.com/feed",
    }
    deepmind = added["https://deepmind.google/blog/rss.xml"]
    assert (deepmind.name, deepmind.title, deepmind.tags) == ("deepmind-blog", "DeepMind Blog", ("Labs", "Research"))
    assert added["https://example.com/another-openai.xml"].name == "openai-2"  # "openai" is configured
    assert added["https://www.qbitai.com/feed"].name == "qbitai.com"  # no ASCII in the title: the host
    assert Path(base[1]).read_text(encoding="utf-8") == config_before  # sources.yaml untouched

    code, again = import_json(capsys, base, opml)
    assert code == 0 and (again["imported"], again["skipped"], again["invalid"]) == (0, 4, 1)
    assert len(load_overlay(resolve_paths(data))) == 3


def test_import_prints_a_readable_summary(capsys, setup, tmp_path):
    base, _ = setup
    opml = tmp_path / "subs.opml"
    opml.write_text(OPML, encoding="utf-8")
    code, out, err = run(capsys, *base, "sources", "import-opml", str(opml))
    assert code == 0
    assert out.rstrip().endswith("imported 3, skipped 1 (already present), 1 invalid")
    assert "ftp://example.org/feed.xml" in err


def test_export_then_import_round_trip_imports_nothing(capsys, setup, tmp_path):
    base, _ = setup
    first = tmp_path / "subs.opml"
    first.write_text(OPML, encoding="utf-8")
    assert import_json(capsys, base, first)[0] == 0  # the export must include overlay sources too

    exported = tmp_path / "export.opml"
    code, out, err = run(capsys, *base, "sources", "export-opml", str(exported))
    assert code == 0 and out == ""
    assert "exported 5 feeds; 1 arXiv query sources written as comments" in err
    feeds = parse_opml(exported.read_bytes())
    assert {feed.url for feed in feeds} >= {"https://openai.com/news/rss.xml", "https://www.qbitai.com/feed"}
    jiqizhixin = next(feed for feed in feeds if feed.url == "https://www.jiqizhixin.com/rss")
    assert (jiqizhixin.title, jiqizhixin.tags) == ("机器之心", ("cn_media",))
    assert b"cat:cs.AI" in exported.read_bytes()  # the arXiv source, as a comment

    code, report = import_json(capsys, base, exported)
    assert code == 0 and (report["imported"], report["invalid"]) == (0, 0)
    assert report["skipped"] == 5


def test_export_to_stdout_is_opml_2(capsys, setup):
    base, _ = setup
    code, out, _ = run(capsys, *base, "sources", "export-opml")
    assert code == 0
    assert '<opml version="2.0">' in out
    assert [feed.url for feed in parse_opml(out.encode())] == [
        "https://openai.com/news/rss.xml",
        "https://www.jiqizhixin.com/rss",
    ]


def test_round_trip_of_the_shipped_sources_yaml(capsys, tmp_path):
    base = ["--config", str(REPO / "sources.yaml"), "--data-dir", str(tmp_path / "data")]
    exported = tmp_path / "export.opml"
    assert run(capsys, *base, "sources", "export-opml", str(exported))[0] == 0
    code, report = import_json(capsys, base, exported)
    assert code == 0 and report["imported"] == 0 and report["skipped"] == len(parse_opml(exported.read_bytes()))
    assert not (tmp_path / "data" / "sources.overlay.yaml").exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("<opml><body><outline xmlUrl='https://x/feed'></body></opml>", "not well-formed XML"),
        ("", "not well-formed XML"),
        ("<rss version='2.0'><channel/></rss>", "not <opml>"),
        ("<opml version='2.0'><head/></opml>", "no <body>"),
    ],
)
def test_malformed_opml_exits_2_with_one_message(capsys, setup, tmp_path, content, expected):
    base, data = setup
    bad = tmp_path / "bad.opml"
    bad.write_text(content, encoding="utf-8")
    code, out, err = run(capsys, *base, "sources", "import-opml", str(bad))
    assert code == 2 and out == ""
    assert err.startswith(f"error: {bad}: ") and expected in err and len(err.strip().splitlines()) == 1
    assert not (data / "sources.overlay.yaml").exists()


def test_missing_file_exits_2(capsys, setup, tmp_path):
    base, _ = setup
    code, _, err = run(capsys, *base, "sources", "import-opml", str(tmp_path / "nope.opml"))
    assert code == 2 and "cannot read" in err


BOMB = """<?xml version="1.0"?>
<!DOCTYPE opml [
  <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
  <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
  <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
  <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
  <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
]>
<opml version="2.0"><body><outline text="&g;" xmlUrl="https://example.com/feed"/></body></opml>
"""


def test_entity_bomb_is_refused_quickly(capsys, setup, tmp_path):
    base, data = setup
    bomb = tmp_path / "bomb.opml"
    bomb.write_text(BOMB, encoding="utf-8")
    started = time.monotonic()
    code, _, err = run(capsys, *base, "sources", "import-opml", str(bomb))
    assert code == 2 and "entity" in err
    assert time.monotonic() - started < 2
    assert not (data / "sources.overlay.yaml").exists()


def test_external_entity_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read", encoding="utf-8")
    xxe = f"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY x SYSTEM "{secret.as_uri()}">]>
<opml version="2.0"><body><outline text="&x;" xmlUrl="https://example.com/feed"/></body></opml>"""
    with pytest.raises(OpmlError, match="entit"):
        parse_opml(xxe.encode())


# -- pure parts ---------------------------------------------------------------------------------


def test_category_attribute_and_nested_outlines_become_tags():
    opml = b"""<opml version="2.0"><body>
      <outline text="News"><outline xmlUrl="https://a.example/feed" text="A" category="/Tech/AI, lab"/></outline>
      <outline xmlUrl="https://b.example/feed"/>
    </body></opml>"""
    assert parse_opml(opml) == [
        Feed("https://a.example/feed", "A", "", ("News", "AI", "lab")),
        Feed("https://b.example/feed", "", "", ()),
    ]


def test_plan_skips_duplicates_within_the_file_and_names_are_valid():
    existing = [SourceConfig(name="feed", kind="rss", url="https://example.com/x.xml")]
    feeds = [
        Feed("https://example.com/x.xml#frag"),
        Feed("https://a.example/rss", "Ünïcode  Title / With: Punctuation!"),
        Feed("HTTP://A.example/rss?fbclid=1"),
        Feed("https://b.example/rss", "x" * 200),
        Feed("not a url"),
    ]
    plan = plan_import(feeds, existing)
    assert [s.name for s in plan.new] == ["unicode-title-with-punctuation", "x" * 60]
    assert len(plan.present) == 2 and [i.url for i in plan.invalid] == ["not a url"]


def test_source_name_falls_back_to_the_host():
    assert source_name(Feed("https://www.qbitai.com/feed", "量子位")) == "qbitai.com"


def test_render_is_stable_for_a_fixed_clock():
    sources = [SourceConfig(name="a", kind="rss", url="https://a.example/feed", tags=("lab", "x"))]
    now = datetime(2024, 5, 1, tzinfo=UTC)
    assert render_opml(sources, now) == render_opml(sources, now)
    assert b'<outline text="lab" title="lab">' in render_opml(sources, now)


def test_an_imported_feed_is_listed_and_fetched_like_a_configured_one(capsys, tmp_path, feed_server):
    """The overlay is part of the settings every command sees, not only `status` and the importer."""
    config = tmp_path / "sources.yaml"
    config.write_text("fetch:\n  allow_private: true\nsources: []\n", encoding="utf-8")
    base = ["--config", str(config), "--data-dir", str(tmp_path / "data")]
    item = "<item><title>Helix opens a lab in Zurich</title><link>https://local.example/helix</link></item>"
    url = feed_server.serve(
        "/local.xml", f"<rss version='2.0'><channel><title>Local</title>{item}</channel></rss>".encode()
    )
    opml = tmp_path / "mine.opml"
    opml.write_text(f'<opml version="2.0"><body><outline type="rss" text="Local" xmlUrl="{url}"/></body></opml>')
    code, report = import_json(capsys, base, opml)
    assert code == 0 and report["imported"] == 1
    (name,) = [source.name for source in load_overlay(resolve_paths(tmp_path / "data"))]

    code, out, _ = run(capsys, *base, "sources", "list", "--json")
    assert code == 0 and [source["name"] for source in json.loads(out)["sources"]] == [name]
    code, out, err = run(capsys, *base, "fetch", "--source", name, "--json")
    assert code == 0, err
    assert json.loads(out)["new"] == 1
