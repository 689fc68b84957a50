"""Who may change an item's text: the source that owns it, not whichever feed carried its link first.

Any feed can put any link in an entry, so "same link" makes two entries one item but says nothing
about whose words to keep. The owner is the arXiv source for an arXiv paper, and otherwise a source
whose configured feed address lives on the host that serves the link (`feeds.reuters.com` owns
`www.reuters.com/...`, `export.arxiv.org` owns `arxiv.org/abs/...`). Only the configured address
counts: a feed's own `<link>` is written by the feed and would let it claim any site. Hosts are
compared after dropping one feed-ish prefix (`www.`, `feeds.`, `rss.`, ...), not by registrable
domain, so one tenant of a shared platform (`alice.medium.com`) never owns another's posts.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.core.config import SourceConfig

_FEED_HOST_PREFIXES = ("www.", "feeds.", "feed.", "rss.", "export.")


def site(url: str) -> str:
    """The host that serves `url`, lower-case, without one feed-ish prefix; "" for a URL with no host."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    for prefix in _FEED_HOST_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            return host[len(prefix) :]
    return host


def owns(source: SourceConfig | None, url: str, arxiv_id: str) -> bool:
    """Whether `source` (None: not configured any more) owns the item at `url`."""
    if source is None:
        return False
    if source.kind == "arxiv":
        return bool(arxiv_id)
    host = site(url)
    return bool(host) and host in {site(address) for address in (source.url, source.fallback_url) if address}
