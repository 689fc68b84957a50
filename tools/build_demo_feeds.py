"""Render the team's labeled item set into the offline demo feeds under `bot/demo/feeds/`.

One feed document per outlet (`source` field of items.jsonl): Atom 1.0 for arXiv and the lab
blogs, RSS 2.0 for the media. Items keep their URL (tracking parameters included) as link and
GUID, their instant of publication (RFC 822 in RSS, RFC 3339 in Atom, original UTC offset kept)
and their text (summaries as HTML where a real feed would carry HTML). Output is deterministic:
the same input gives byte-identical files, so the generated feeds can be committed and checked.

Usage: python tools/build_demo_feeds.py [--items ../shared/eval/items.jsonl] [--out bot/demo/feeds]
(relative paths are taken from the repository root).
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ITEMS = Path("../shared/eval/items.jsonl")
DEFAULT_OUT = Path("bot/demo/feeds")
ATOM_NS = "http://www.w3.org/2005/Atom"
GENERATOR = "ai-news-bot tools/build_demo_feeds.py"

# Display names for the outlets of the labeled set; an unknown key is shown as itself.
OUTLET_TITLES = {
    "arxiv": "arXiv.org (demo listing)",
    "openai_blog": "OpenAI News",
    "deepmind_blog": "Google DeepMind Blog",
    "meta_ai_blog": "Meta AI Blog",
    "anthropic_news": "Anthropic News",
    "microsoft_research": "Microsoft Research Blog",
    "microsoft_blog": "The Official Microsoft Blog",
    "hf_blog": "Hugging Face Blog",
    "stability_news": "Stability AI News",
    "mistral_blog": "Mistral AI News",
    "runway_blog": "Runway Research",
    "wayve_blog": "Wayve Blog",
    "adept_blog": "Adept Blog",
    "alimama_tech": "Alimama Tech",
    "jiqizhixin": "机器之心",
    "qbitai": "量子位",
    "xinzhiyuan": "新智元",
    "36kr": "36氪",
    "51cto": "51CTO",
    "zhihu_column": "知乎专栏",
    "infoq_cn": "InfoQ 中文",
    "techcrunch": "TechCrunch",
    "the_verge": "The Verge",
    "wired": "WIRED",
    "venturebeat": "VentureBeat",
    "reuters": "Reuters",
    "theinformation": "The Information",
    "financial_times": "Financial Times",
    "bloomberg": "Bloomberg",
    "forbes": "Forbes",
    "gizmodo": "Gizmodo",
    "scmp": "South China Morning Post",
    "the_decoder": "The Decoder",
}

_ENTITY = re.compile(r"&(#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
_ARXIV_ID = re.compile(r"arxiv\.org/abs/([^?#]+?)(?:v\d+)?$")


def load_items(path: Path) -> list[dict[str, Any]]:
    """Read items.jsonl: one JSON object per non-empty line."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def group_by_outlet(items: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Items per outlet, newest first (ties broken by id) as a real feed lists them."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        groups[item["source"]].append(item)
    for members in groups.values():
        members.sort(key=lambda it: it["id"])
        members.sort(key=lambda it: parse_time(it["published"]), reverse=True)
    return dict(sorted(groups.items()))


def parse_time(value: str) -> datetime:
    """ISO 8601 with offset → aware datetime (the offset is kept, not converted)."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"published has no timezone: {value!r}")
    return moment


def rfc822(moment: datetime) -> str:
    """RSS pubDate, e.g. 'Wed, 11 Jan 2023 18:00:00 +0000', in the item's own offset."""
    return format_datetime(moment)


def rfc3339(moment: datetime) -> str:
    """Atom date, e.g. '2023-01-13T09:00:00+08:00'."""
    return moment.isoformat()


def html_text(text: str) -> str:
    """Escape text for HTML while keeping entity references the source already carried."""
    parts: list[str] = []
    last = 0
    for match in _ENTITY.finditer(text):
        parts.append(html.escape(text[last : match.start()], quote=False))
        parts.append(match.group(0))
        last = match.end()
    parts.append(html.escape(text[last:], quote=False))
    return "".join(parts)


def feed_language(members: list[dict[str, Any]]) -> str:
    """'zh-cn' or 'en' by majority of the items' languages (ties go to English)."""
    counts = Counter(item["lang"] for item in members)
    return "zh-cn" if counts["zh"] > counts["en"] else "en"


def homepage(members: list[dict[str, Any]]) -> str:
    """The outlet's site, taken from the host of its first item's URL."""
    parts = urlsplit(members[0]["url"])
    return f"{parts.scheme}://{parts.netloc}/"


def feed_format(source: str, members: list[dict[str, Any]]) -> str:
    """'atom' for arXiv and lab blogs, 'rss' for media."""
    kinds = {item["source_kind"] for item in members}
    return "atom" if kinds & {"arxiv", "lab_blog"} else "rss"


def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    """Append a child element with optional text and attributes (in the given order)."""
    child = ET.SubElement(parent, tag, attrs)
    if text is not None:
        child.text = text
    return child


def render_rss(source: str, members: list[dict[str, Any]]) -> ET.Element:
    """An RSS 2.0 channel; Chinese outlets wrap the description in <p>, as their CMSs do."""
    rss = ET.Element("rss", {"version": "2.0"})
    channel = sub(rss, "channel")
    language = feed_language(members)
    sub(channel, "title", OUTLET_TITLES.get(source, source))
    sub(channel, "link", homepage(members))
    sub(channel, "description", f"Demo feed for {source}, rendered from the labeled evaluation set")
    sub(channel, "language", language)
    sub(channel, "lastBuildDate", rfc822(parse_time(members[0]["published"])))
    sub(channel, "generator", GENERATOR)
    for item in members:
        entry = sub(channel, "item")
        sub(entry, "title", item["title"])
        sub(entry, "link", item["url"])
        body = html_text(item["summary"])
        sub(entry, "description", f"<p>{body}</p>" if item["lang"] == "zh" else body)
        sub(entry, "pubDate", rfc822(parse_time(item["published"])))
        sub(entry, "guid", item["url"], isPermaLink="true")
    return rss


def render_atom(source: str, members: list[dict[str, Any]]) -> ET.Element:
    """An Atom 1.0 feed; the arXiv outlet is shaped like an arXiv listing."""
    is_arxiv = source == "arxiv"
    feed = ET.Element("feed", {"xmlns": ATOM_NS, "xml:lang": feed_language(members)})
    sub(feed, "id", f"urn:ai-news-bot:demo:{source}")
    sub(feed, "title", OUTLET_TITLES.get(source, source))
    sub(feed, "updated", rfc3339(parse_time(members[0]["published"])))
    sub(feed, "link", href=homepage(members), rel="alternate", type="text/html")
    sub(feed, "generator", GENERATOR)
    for item in members:
        entry = sub(feed, "entry")
        published = rfc3339(parse_time(item["published"]))
        arxiv_id = _arxiv_id(item["url"]) if is_arxiv else ""
        sub(entry, "id", f"oai:arXiv.org:{arxiv_id}" if arxiv_id else item["url"])
        sub(entry, "title", item["title"])
        sub(entry, "link", href=item["url"], rel="alternate", type="text/html")
        if arxiv_id:
            sub(entry, "link", href=f"https://arxiv.org/pdf/{arxiv_id}", rel="related", type="application/pdf")
            sub(entry, "summary", item["summary"], type="text")
        else:
            sub(entry, "summary", f"<p>{html_text(item['summary'])}</p>", type="html")
        sub(entry, "published", published)
        sub(entry, "updated", published)
        if not is_arxiv:
            sub(sub(entry, "author"), "name", OUTLET_TITLES.get(source, source))
    return feed


def _arxiv_id(url: str) -> str:
    match = _ARXIV_ID.search(url)
    return match.group(1) if match else ""


def serialize(root: ET.Element) -> bytes:
    """Indented UTF-8 XML with a declaration and a final newline; stable across runs."""
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode", short_empty_elements=True)
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n").encode("utf-8")


def render(source: str, members: list[dict[str, Any]]) -> bytes:
    """The complete feed document for one outlet."""
    if feed_format(source, members) == "atom":
        return serialize(render_atom(source, members))
    return serialize(render_rss(source, members))


def build(items_path: Path, out_dir: Path) -> dict[str, int]:
    """Write one feed per outlet into `out_dir`, remove stale *.xml there; return items per file."""
    groups = group_by_outlet(load_items(items_path))
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for source, members in groups.items():
        (out_dir / f"{source}.xml").write_bytes(render(source, members))
        written[f"{source}.xml"] = len(members)
    for stale in out_dir.glob("*.xml"):
        if stale.name not in written:
            stale.unlink()
    return written


def _from_root(path: Path) -> Path:
    return path if path.is_absolute() else REPO_ROOT / path


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: build the feeds and print a one-line summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--items", type=Path, default=DEFAULT_ITEMS, help="labeled items.jsonl")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the feed files")
    args = parser.parse_args(argv)
    items_path = _from_root(args.items)
    if not items_path.is_file():
        print(f"build_demo_feeds: no such file: {items_path}", file=sys.stderr)
        return 2
    written = build(items_path, _from_root(args.out))
    print(f"wrote {len(written)} feeds, {sum(written.values())} items, to {_from_root(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
