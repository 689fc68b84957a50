"""RawEntry → Item: clean text, canonical URL, language, UTC time, content hash.

Normalization is where "the same thing said twice" becomes visibly the same: tracking
parameters and fragments leave URLs, markup and entities leave text, every time becomes UTC.
It is pure and cheap (it runs on every entry of every fetch, before we know whether the
entry is new), so it avoids heavyweight detectors: language is decided by script counts,
which is what matters for a bilingual zh/en stream.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser

from bot.core.models import Item, RawEntry
from bot.core.text import HAN_CHAR

MAX_TITLE_CHARS = 1_000
MAX_TEXT_CHARS = 20_000
EARLIEST_DATE = datetime(1991, 1, 1, tzinfo=UTC)  # before arXiv and the web: a placeholder, not a date
FUTURE_TOLERANCE = timedelta(days=1)

_TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "ref",
        "ref_src",
        "ref_url",
        "spm",
        "from",
        "source",
        "share_token",
        "sharer_shareid",
        "sharer_sharetime",
        "scene",
        "srcid",
        "wfr",
        "cmpid",
        "ncid",
        "sr_share",
        "taid",
        "rss",
        "feed",
        "via",
    }
)
_TRACKING_PREFIXES = ("utm_", "pk_", "hmsr", "hmpl", "hmcu", "hmkw", "hmci")
_DROP_TAGS = "script, style, noscript, iframe, svg, template, object, embed, head"
_BLOCK_TAGS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote", "pre")
_WHITESPACE = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]+")
_ARXIV_URL = re.compile(
    r"arxiv\.org/(?:abs|pdf|html)/((?:\d{4}\.\d{4,5})|(?:[a-z\-]+(?:\.[A-Z]{2})?/\d{7}))(?:v(\d+))?",
    re.IGNORECASE,
)


def normalize(entry: RawEntry) -> Item:
    """Turn what a feed said into a clean, comparable Item."""
    title = clean_text(html_to_text(entry.title))[:MAX_TITLE_CHARS]
    body = html_to_text(entry.content_html or entry.summary_html)
    if entry.content_html and entry.summary_html and len(entry.content_html) < len(entry.summary_html):
        body = html_to_text(entry.summary_html)
    text = body[:MAX_TEXT_CHARS]
    url = canonical_url(entry.link) if entry.link else ""
    arxiv_id, arxiv_version = entry.arxiv_id, entry.arxiv_version
    if not arxiv_id:
        arxiv_id, arxiv_version = arxiv_id_from_url(entry.link or entry.guid)
    if arxiv_id:
        url = f"https://arxiv.org/abs/{arxiv_id}"
    published, estimated = publication_time(entry)
    return Item(
        source=entry.source,
        guid=entry.guid.strip(),
        url=url,
        title=title or text[:120],
        text=text,
        lang=detect_language(f"{title}\n{text[:500]}", hint=entry.lang_hint),
        published=published,
        fetched_at=_utc(entry.fetched_at),
        content_hash=content_hash(title, text),
        published_estimated=estimated,
        arxiv_id=arxiv_id,
        arxiv_version=arxiv_version,
        authors=entry.authors,
        tags=entry.tags,
    )


def html_to_text(fragment: str) -> str:
    """Visible text of an HTML fragment: scripts and styles dropped, entities decoded."""
    if not fragment:
        return ""
    if "<" not in fragment and "&" not in fragment:
        return clean_text(fragment)
    tree = LexborHTMLParser(fragment)
    for node in tree.css(_DROP_TAGS):
        node.decompose()
    for tag in _BLOCK_TAGS:
        for node in tree.css(tag):
            node.insert_before("\n")
    root = tree.body or tree.root
    raw = root.text(separator="", deep=True) if root is not None else ""
    return clean_text(raw)


_UNWANTED = re.compile("[\u200b\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Collapse runs of spaces (incl. full-width and no-break) and blank lines; drop bidi controls (an
    override makes a title read backwards in Telegram: "moc.elgoog" shown as "google.com") and lone
    surrogates (not text, and no encoder takes them)."""
    text = _UNWANTED.sub("", text)
    text = _WHITESPACE.sub(" ", text)
    text = _BLANK_LINES.sub("\n", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no fragment, default port or tracking parameters."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    if parts.scheme not in ("http", "https"):
        return url.strip()
    host = (parts.hostname or "").lower().rstrip(".")
    port = parts.port if parts.port not in (None, 80, 443) else None
    netloc = f"{host}:{port}" if port else host
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", urlencode(query), ""))


def _is_tracking(key: str) -> bool:
    lowered = key.lower()
    return lowered in _TRACKING_PARAMS or lowered.startswith(_TRACKING_PREFIXES)


def arxiv_id_from_url(url: str) -> tuple[str, int]:
    """`https://arxiv.org/abs/2401.01234v2` → ("2401.01234", 2); not an arXiv link → ("", 0)."""
    match = _ARXIV_URL.search(url or "")
    if not match:
        return "", 0
    return match.group(1), int(match.group(2) or 0)


def detect_language(text: str, hint: str = "") -> str:
    """zh / en / ja / ko / other, by counting scripts.

    Chinese tech media write English names inside Chinese prose ("OpenAI 发布 GPT-4o"), so a
    text is Chinese when its Han characters are at least as many as its Latin words.
    """
    cjk = len(HAN_CHAR.findall(text))
    if _KANA.search(text) and len(_KANA.findall(text)) * 5 >= cjk:
        return "ja"
    if len(_HANGUL.findall(text)) > cjk:
        return "ko"
    words = len(_LATIN_WORD.findall(text))
    if cjk >= 2 and cjk >= words:
        return "zh"
    if words:
        return "en"
    return hint or "other"


def publication_time(entry: RawEntry) -> tuple[datetime, bool]:
    """UTC publication time, and whether fetch time had to stand in for it.

    A date in the future (beyond a day of clock skew) is a feed bug, not news from tomorrow; so is one
    before the web had feeds (Go's zero time "Mon, 01 Jan 0001", a Unix epoch 1970), which retention
    would otherwise drop without a word.
    """
    fetched = _utc(entry.fetched_at)
    for candidate in (entry.published, entry.updated):
        if candidate is not None:
            moment = _utc(candidate)
            if EARLIEST_DATE <= moment <= fetched + FUTURE_TOLERANCE:
                return moment, False
    return fetched, True


def content_hash(title: str, text: str) -> str:
    """Hash of the normalized wording: equal for copies that differ only in markup or spacing."""
    folded = unicodedata.normalize("NFKC", f"{title}\n{text}").lower()
    folded = re.sub(r"\s+", " ", folded).strip()
    return hashlib.blake2b(folded.encode("utf-8"), digest_size=16).hexdigest()


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
