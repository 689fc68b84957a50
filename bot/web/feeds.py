"""The deduplicated stream as feeds any reader can follow: Atom 1.0, JSON Feed 1.1 and an OPML list of them.

One entry per story, not per article: a story told by seven outlets in two languages is one entry
whose content lists the seven and links the story page. An entry's id is the story's and never
changes; its `updated` moves when the story grows, so a reader shows it again as changed instead
of as a new entry. Feeds are built with ElementTree and `json` (every value escaped by the
serializer, never pasted into markup), and carry an ETag and Last-Modified for conditional GET:
most polls of a feed reader then cost one small query and a 304.
"""

from __future__ import annotations

import hashlib
import html
import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import urlsplit

from bot.core.words import word
from bot.web.views import FeedStory, outlets_text

ATOM_TYPE = "application/atom+xml; charset=utf-8"
JSON_FEED_TYPE = "application/feed+json; charset=utf-8"
OPML_TYPE = "text/x-opml; charset=utf-8"
KINDS = {"atom": ATOM_TYPE, "json": JSON_FEED_TYPE}
ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Feed:
    """One theme's feed in one language; `base` is the site's absolute URL without a trailing slash."""

    name: str  # the theme, or "all"
    title: str
    lang: str
    base: str
    stories: Sequence[FeedStory]

    def url(self, kind: str) -> str:
        return f"{self.base}/feeds/{self.name}.{kind}?lang={self.lang}"

    @property
    def home(self) -> str:
        path = "/" if self.name == "all" else f"/theme/{self.name}"
        return f"{self.base}{path}?lang={self.lang}"

    def story_url(self, story_id: int) -> str:
        return f"{self.base}/story/{story_id}?lang={self.lang}"

    @property
    def updated(self) -> datetime:
        return max((_updated(entry) for entry in self.stories), default=EPOCH)


def entry_id(story_id: int) -> str:
    """Stable across updates, languages and hosts: the reader's key for "the same entry"."""
    return f"urn:ai-news-bot:story:{story_id}"


def entry_html(feed: Feed, entry: FeedStory) -> str:
    """The entry's content: who covered it (each outlet linking its article) and the story page."""
    story = entry.story
    outlets = outlets_text(story.outlets, feed.lang)
    said = word("web.feed_entry", feed.lang, outlets=outlets, langs="/".join(story.langs))
    lines = [f"<p>{html.escape(said)}</p>"]
    links = [
        f'<li><a href="{html.escape(url)}">{html.escape(source)}</a></li>' for source, url in entry.links if _http(url)
    ]
    if links:
        lines.append(f"<ul>{''.join(links)}</ul>")
    page = html.escape(feed.story_url(story.id))
    lines.append(f'<p><a href="{page}">{html.escape(word("web.all_coverage", feed.lang))}</a></p>')
    return "\n".join(lines)


def atom(feed: Feed) -> bytes:
    root = ET.Element("feed", {"xmlns": ATOM_NS, XML_LANG: feed.lang})
    ET.SubElement(root, "id").text = feed.url("atom")
    ET.SubElement(root, "title").text = feed.title
    ET.SubElement(root, "updated").text = _iso(feed.updated)
    ET.SubElement(root, "link", {"rel": "self", "type": ATOM_TYPE.split(";")[0], "href": feed.url("atom")})
    ET.SubElement(root, "link", {"rel": "alternate", "type": "text/html", "href": feed.home})
    ET.SubElement(ET.SubElement(root, "author"), "name").text = word("web.site_title", feed.lang)
    for entry in feed.stories:
        story = entry.story
        node = ET.SubElement(root, "entry")
        ET.SubElement(node, "id").text = entry_id(story.id)
        ET.SubElement(node, "title").text = story.title_in(feed.lang)
        ET.SubElement(node, "link", {"rel": "alternate", "type": "text/html", "href": feed.story_url(story.id)})
        ET.SubElement(node, "published").text = _iso(story.first_published)
        ET.SubElement(node, "updated").text = _iso(_updated(entry))
        for theme in story.themes:
            ET.SubElement(node, "category", {"term": theme})
        ET.SubElement(node, "content", {"type": "html"}).text = entry_html(feed, entry)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def json_feed(feed: Feed) -> bytes:
    items = [
        {
            "id": entry_id(entry.story.id),
            "url": feed.story_url(entry.story.id),
            "title": entry.story.title_in(feed.lang),
            "content_html": entry_html(feed, entry),
            "date_published": _iso(entry.story.first_published),
            "date_modified": _iso(_updated(entry)),
            "tags": list(entry.story.themes),
        }
        for entry in feed.stories
    ]
    body = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed.title,
        "home_page_url": feed.home,
        "feed_url": feed.url("json"),
        "language": feed.lang,
        "items": items,
    }
    return json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8")


def opml(title: str, feeds: Sequence[Feed]) -> bytes:
    """An OPML 2.0 subscription list: each theme's Atom feed, for importing all at once."""
    root = ET.Element("opml", {"version": "2.0"})
    ET.SubElement(ET.SubElement(root, "head"), "title").text = title
    body = ET.SubElement(root, "body")
    for feed in feeds:
        attributes = {"type": "rss", "text": feed.title, "title": feed.title, "xmlUrl": feed.url("atom")}
        ET.SubElement(body, "outline", {**attributes, "htmlUrl": feed.home, "language": feed.lang})
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def validators(feed: Feed, kind: str) -> dict[str, str]:
    """ETag (the entries' ids and versions, the language, format and base) and Last-Modified headers."""
    versions = ",".join(f"{entry.story.id}:{_iso(_updated(entry))}" for entry in feed.stories)
    digest = hashlib.sha256(f"{kind}|{feed.lang}|{feed.base}|{feed.title}|{versions}".encode()).hexdigest()[:32]
    return {"ETag": f'"{digest}"', "Last-Modified": format_datetime(feed.updated.astimezone(UTC), usegmt=True)}


def not_modified(request_headers: Mapping[str, str], headers: Mapping[str, str]) -> bool:
    """RFC 9110: If-None-Match decides when present (weak comparison); otherwise If-Modified-Since."""
    matches = request_headers.get("if-none-match")
    if matches is not None:
        wanted = {tag.strip().removeprefix("W/") for tag in matches.split(",")}
        return "*" in wanted or headers["ETag"] in wanted
    since = request_headers.get("if-modified-since")
    if not since:
        return False
    try:
        moment = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    modified = parsedate_to_datetime(headers["Last-Modified"])
    return moment.tzinfo is not None and modified <= moment


def _updated(entry: FeedStory) -> datetime:
    return entry.story.updated_at or entry.story.last_published


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
