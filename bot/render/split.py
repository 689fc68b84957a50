"""The one splitter of Telegram HTML into messages: whole blocks where they fit, never a tag cut in two.

Telegram takes at most 4096 UTF-16 code units of text per message, counted after the HTML is
parsed (tags and an href do not count, `&amp;` counts one). Packing measures the HTML source,
which is never shorter than what Telegram counts, so a packed message always fits; only a single
line whose *visible* text is over the budget is shortened, by `clip_html`, which cuts between
characters of text (never inside a tag or an entity), closes the tags left open, and ends in "…".
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

_TOKENS = re.compile(r"<[^>]*>|&[#\w]+;|[^<&]+|[<&]")
_TAG_NAME = re.compile(r"</?\s*([a-zA-Z][\w-]*)")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP counts two)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def visible_len(markup: str) -> int:
    """What Telegram counts of `markup`: the text with tags removed and entities decoded."""
    return utf16_len(html.unescape(re.sub(r"<[^>]*>", "", markup)))


def clip_html(markup: str, budget: int) -> str:
    """`markup` with at most `budget` visible UTF-16 units, cut between characters, open tags closed."""
    if visible_len(markup) <= budget:
        return markup
    room = budget - 1  # for the "…"
    kept: list[str] = []
    open_tags: list[str] = []
    for token in _TOKENS.findall(markup):
        if token.startswith("<") and len(token) > 1:
            found = _TAG_NAME.match(token)
            name = found.group(1).lower() if found else "x"  # "<" before no name: text, never an open tag
            if token.startswith("</"):
                if name in open_tags:
                    open_tags.remove(name)
            else:
                open_tags.append(name)
            kept.append(token)
            continue
        size = utf16_len(html.unescape(token))
        if size <= room:
            kept.append(token)
            room -= size
            continue
        if not token.startswith("&"):  # plain text: keep what fits, character by character
            for char in token:
                room -= utf16_len(char)
                if room < 0:
                    break
                kept.append(html.escape(char, quote=False) if char in "<&" else char)
        break
    return "".join(kept) + "…" + "".join(f"</{name}>" for name in reversed(open_tags))


def pack_blocks(blocks: Sequence[list[str]], budget: int) -> list[str]:
    """Greedy packing of whole blocks into messages; a block too big alone is packed line by line,
    and a line whose visible text alone is over the budget is clipped."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        for piece in [block] if utf16_len("\n".join(block)) <= budget else [[line] for line in block]:
            text = "\n".join(piece if len(piece) > 1 else [clip_html(piece[0], budget)])
            joined = f"{current}\n{text}" if current else text.lstrip("\n")
            if current and utf16_len(joined) > budget:
                messages.append(current)
                joined = text.lstrip("\n")
            current = joined
    if current:
        messages.append(current)
    return messages
