"""Text rules every stage shares: what counts as Chinese, and where a sentence ends.

One definition of each, so the language detector, the summariser, the answer checker and the
topic labels agree on which characters are Han and on sentence boundaries in both languages.
"""

from __future__ import annotations

import re

# Han ideographs: the CJK Unified block, Extension A and the compatibility ideographs.
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
HAN_CHAR = re.compile(f"[{HAN}]")

_CJK_END = "。！？"
_BOUNDARY = re.compile(r"[。！？]+[”’」』）]*|[.!?]+[\"'”’)\]]*(?=\s|$|[" + HAN + "])")
_LAST_TOKEN = re.compile(r"(\S+)$")
_INITIALISM = re.compile(r"^(?:[A-Za-z]\.)+[A-Za-z]$|^[A-Z]$")  # U.S, e.g, i.e, p.m, an initial "J"
_ABBREVIATIONS = frozenset(
    {
        *("mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "inc", "corp", "ltd", "co", "vs", "al", "fig", "no"),
        *("approx", "dept", "est", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"),
    }
)


def split_sentences(text: str) -> list[str]:
    """Sentences of English and Chinese text, line by line.

    Chinese ends a sentence at 。！？ whatever follows. A Latin . ! ? ends one only before a space,
    the end or a Chinese character, and not after an abbreviation or initialism ("e.g.", "U.S.",
    "Dr.") nor before a lower-case word; so "3.5", "example.com/a.b" and "e.g. this" stay whole.
    """
    sentences = []
    for line in text.splitlines():
        start = 0
        for match in _BOUNDARY.finditer(line):
            if _ends_sentence(line, match):
                sentences.append(line[start : match.end()])
                start = match.end()
        sentences.append(line[start:])
    return [" ".join(sentence.split()) for sentence in sentences if sentence.strip()]


def _ends_sentence(line: str, match: re.Match[str]) -> bool:
    if match.group()[0] in _CJK_END:
        return True
    rest = line[match.end() :].lstrip()
    if rest[:1].islower():
        return False
    if match.group()[0] != ".":
        return True
    token = _LAST_TOKEN.search(line[: match.start()])
    word = token.group(1).lstrip("([\"'“‘") if token else ""
    return not (_INITIALISM.match(word) or word.lower() in _ABBREVIATIONS)
