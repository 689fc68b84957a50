"""OPML in and out: the file format every feed reader uses to move its subscriptions around.

Why a module of its own: a user arriving from Feedly, Inoreader or NetNewsWire has their feeds as
OPML, and one leaving wants them back. This module is the pure part — parse bytes into `Feed`s,
decide which of them are new (`plan_import`), render sources as OPML 2.0 — so the rules are
testable without files; `bot/cli/opml.py` reads and writes the files and the overlay.

Safety: OPML comes from anywhere, so the XML is parsed by expat with every entity declaration and
external entity refused (the defusedxml policy; defusedxml itself is not installed here). A feed
list never needs a DTD entity, and refusing them makes an entity bomb a parse error, not a hang.

Duplicates are judged by URL, canonically (`bot.ingest.normalize.canonical_url`) and ignoring the scheme,
so `http://x/feed?utm_source=y` is the feed already configured as `https://x/feed`. Category
outlines (outlines without `xmlUrl`) become the `tags` of the feeds inside them.
"""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import Any, NoReturn
from urllib.parse import urlsplit
from xml.parsers import expat

from pydantic import ValidationError

from bot.core.config import SourceConfig
from bot.core.errors import UsageError
from bot.ingest.normalize import canonical_url

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.\-]+")
_NAME_LIMIT = 60


class OpmlError(UsageError):
    """The file is not OPML we can read (malformed XML, entities, wrong root); the message says where."""


@dataclass(frozen=True, slots=True)
class Feed:
    """One feed outline: its URL, its display title and the categories it was filed under."""

    url: str
    title: str = ""
    html_url: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Invalid:
    """A feed outline we will not import, and why (not http/https, no host, ...)."""

    url: str
    reason: str


@dataclass(slots=True)
class ImportPlan:
    """What an import would do: sources to add, feeds already present, feeds refused."""

    new: list[SourceConfig] = field(default_factory=list)
    present: list[Feed] = field(default_factory=list)
    invalid: list[Invalid] = field(default_factory=list)


# -- parsing -----------------------------------------------------------------------------------


def parse_opml(data: bytes) -> list[Feed]:
    """Every feed outline in an OPML 1.0/2.0 document, in document order; `OpmlError` if unreadable."""
    root = _parse_xml(data)
    if root.tag != "opml":
        raise OpmlError(f"the root element is <{root.tag}>, not <opml>")
    body = root.find("body")
    if body is None:
        raise OpmlError("no <body> element")
    feeds: list[Feed] = []
    _collect(body, (), feeds)
    return feeds


def _collect(parent: ET.Element, tags: tuple[str, ...], out: list[Feed]) -> None:
    for outline in parent.findall("outline"):
        label = _clean(outline.get("title") or outline.get("text") or "")
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url:
            own = _merge_tags(tags, _category_tags(outline.get("category") or ""))
            out.append(Feed(url=url, title=label, html_url=(outline.get("htmlUrl") or "").strip(), tags=own))
        # A feed outline with children is unusual; its children are still feeds, filed the same way.
        _collect(outline, tags if url or not label else _merge_tags(tags, (label,)), out)


def _category_tags(value: str) -> tuple[str, ...]:
    """OPML 2.0 `category`: comma-separated, each a slash-delimited path; each path's last part is a tag."""
    parts = (path.strip().rstrip("/").rsplit("/", 1)[-1] for path in value.split(","))
    return tuple(_clean(part) for part in parts if _clean(part))


def _merge_tags(first: Iterable[str], second: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*first, *second]))


def _clean(text: str) -> str:
    return " ".join(text.split())


def _parse_xml(data: bytes) -> ET.Element:
    """Parse with expat, refusing entity declarations and external entities (see the module docstring)."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()
    parser.buffer_text = True

    def refuse(*_: Any) -> NoReturn:
        raise OpmlError("entity declarations are not allowed in OPML (possible entity-expansion attack)")

    def refuse_external(*_: Any) -> NoReturn:
        raise OpmlError("external entities are not allowed in OPML")

    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse_external
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise OpmlError(
            f"not well-formed XML: {expat.ErrorString(exc.code)} (line {exc.lineno}, column {exc.offset})"
        ) from None
    return builder.close()


# -- deciding what is new ----------------------------------------------------------------------


def url_key(url: str) -> str:
    """The identity of a feed URL: canonical form without the scheme (http and https are one feed)."""
    canonical = canonical_url(url)
    return canonical.split("://", 1)[1] if "://" in canonical else canonical


def plan_import(feeds: Sequence[Feed], existing: Sequence[SourceConfig]) -> ImportPlan:
    """Which `feeds` to add as new rss sources, given the `existing` ones (config plus overlay).

    A URL already in `existing` — or earlier in `feeds` — is present; a non-http(s) URL is invalid.
    Names come from the title, made unique against `existing` and each other.
    """
    plan = ImportPlan()
    seen = {url_key(url) for source in existing for url in (source.url, source.fallback_url) if url}
    taken = {source.name for source in existing}
    for feed in feeds:
        reason = _url_problem(feed.url)
        if reason:
            plan.invalid.append(Invalid(feed.url, reason))
            continue
        key = url_key(feed.url)
        if key in seen:
            plan.present.append(feed)
            continue
        name = unique_name(source_name(feed), taken)
        try:
            source = SourceConfig(name=name, kind="rss", url=feed.url, title=feed.title, tags=feed.tags)
        except ValidationError as exc:
            plan.invalid.append(Invalid(feed.url, "; ".join(e["msg"] for e in exc.errors())))
            continue
        seen.add(key)
        taken.add(name)
        plan.new.append(source)
    return plan


def _url_problem(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "not a URL"
    if parts.scheme.lower() not in ("http", "https"):
        return f"not an http(s) URL (scheme {parts.scheme or 'missing'!r})"
    if not parts.hostname:
        return "the URL has no host"
    return ""


def source_name(feed: Feed) -> str:
    """A `SourceConfig.name` from the title (ASCII letters, digits, `_ . -`); the host when that is empty."""
    ascii_title = unicodedata.normalize("NFKD", feed.title).encode("ascii", "ignore").decode()
    slug = _slug(ascii_title).lower()
    if not slug:
        slug = _slug((urlsplit(feed.url).hostname or "").removeprefix("www."))
    return slug[:_NAME_LIMIT].strip("-.") or "feed"


def _slug(text: str) -> str:
    return _NAME_CHARS.sub("-", text).strip("-.")


def unique_name(base: str, taken: set[str]) -> str:
    """`base`, or `base-2`, `base-3`, ... — the first not in `taken`."""
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{base}-{number}"
    return candidate


# -- rendering ---------------------------------------------------------------------------------


def render_opml(sources: Sequence[SourceConfig], now: datetime, title: str = "AI news bot sources") -> bytes:
    """OPML 2.0 for the http(s) rss `sources`, filed under a category outline named by the first tag.

    arXiv query sources are not feeds: each becomes an XML comment (name and query) so a reader sees
    what is missing, while feed readers ignore it. Sources with `file:` URLs are left out.
    """
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now)
    body = ET.SubElement(root, "body")
    categories: dict[str, ET.Element] = {}
    for source in exportable(sources):
        parent = body
        if source.tags:
            tag = source.tags[0]
            if tag not in categories:
                categories[tag] = ET.SubElement(body, "outline", text=tag, title=tag)
            parent = categories[tag]
        label = source.title or source.name
        ET.SubElement(parent, "outline", type="rss", text=label, title=label, xmlUrl=source.url or "")
    for source in sources:
        if source.kind == "arxiv":
            query = (source.query or "").replace("--", "- -")
            body.append(ET.Comment(f" arXiv query source {source.name!r} (not a feed): {query} "))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def exportable(sources: Iterable[SourceConfig]) -> list[SourceConfig]:
    """The sources an OPML export lists as feeds: rss with an http(s) URL."""
    return [s for s in sources if s.kind == "rss" and s.url and not _url_problem(s.url)]
