"""Grounded answers with citations, from stories the caller already retrieved.

An answer may only say what the monitored sources said, and must say where. Without an LLM
the answer is extractive: the best stories, one line each, with a link. With an LLM (an
OpenAI-compatible endpoint in config), `bot/query/prompts/answer.txt` hands it only the retrieved
stories, numbered, and its reply is checked before anyone sees it: every citation must name a
story we passed, and every sentence that claims something must cite one. A reply that fails
any check, or a call that fails, falls back to the extractive answer with the reason recorded,
so a flaky or inventive model degrades the answer, never its honesty. `answer_question` is a
pure function of the question and the hits, shared by the CLI, the Telegram bot and the tests.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bot.core.config import Settings
from bot.core.text import HAN_CHAR, split_sentences
from bot.core.words import LANGS, word
from bot.ingest.normalize import detect_language
from bot.query.llm import LlmClient, LlmError
from bot.query.search import StoryHit

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"  # package data: installed with the code
LEAD_CHARS = 280  # of each story's closest item per language: enough to answer from, short enough to stay cheap
MAX_OUTLETS_NAMED = 6
CHARS_PER_TOKEN = 4  # a reply longer than max_tokens × this came from a server that ignored max_tokens


NOT_FOUND = {lang: word("answer.not_found", lang) for lang in LANGS}  # also the LLM's agreed "no answer" reply
NOTHING_FOUND = {lang: word("answer.nothing_found", lang) for lang in LANGS}
TOP_STORIES = {lang: word("answer.top_stories", lang) for lang in LANGS}
LANGUAGE_NAMES = {"en": "English", "zh": "Simplified Chinese (简体中文)"}

_SLOT = re.compile(r"\{(\w+)\}")
_CITATION = re.compile(r"\[(\d+(?:\s*[,，、]\s*\d+)*)\]")
_LEADING_CITATIONS = re.compile(r"^\s*(?:\[\d+(?:\s*[,，、]\s*\d+)*\]\s*)+")
_WORD = re.compile(r"[A-Za-z0-9]+")
_BRACKETS = str.maketrans({"【": "[", "】": "]", "［": "[", "］": "]"})


@dataclass(frozen=True, slots=True)
class Citation:
    """Story `number` as the answer text cites it ([1], [2]…), with the story and its best link."""

    number: int
    story_id: int
    title: str
    url: str


@dataclass(slots=True)
class Answer:
    """What the asker sees: the text, its citations, and how it was made (and why not by the LLM)."""

    text: str
    lang: str
    citations: list[Citation] = field(default_factory=list)
    mode: Literal["extractive", "llm"] = "extractive"
    fallback_reason: str = ""


class RejectedReply(ValueError):
    """The LLM replied, but the reply is not a grounded, fully cited answer."""


def answer_question(question: str, hits: Sequence[StoryHit], settings: Settings, llm: LlmClient | None) -> Answer:
    """Answer `question` from `hits` (best first): by the LLM when configured and its reply checks out."""
    lang = asker_language(question)
    if llm is None or not hits:
        return extractive_answer(lang, hits)
    try:
        reply = llm.complete([{"role": "user", "content": build_prompt(question, hits, lang)}])
        return checked_answer(reply, hits, lang, max_chars=settings.llm.max_tokens * CHARS_PER_TOKEN)
    except (LlmError, RejectedReply) as exc:
        return extractive_answer(lang, hits, fallback_reason=str(exc))


def asker_language(question: str) -> str:
    """`zh` for a Chinese question, otherwise `en` (the two languages the bot speaks)."""
    return "zh" if detect_language(question) == "zh" else "en"


# -- extractive --------------------------------------------------------------------------------


def extractive_answer(lang: str, hits: Sequence[StoryHit], fallback_reason: str = "") -> Answer:
    """The stories themselves, one numbered line each with its best link; a clear not-found when none."""
    if not hits:
        return Answer(NOTHING_FOUND[lang], lang, fallback_reason=fallback_reason)
    citations = [citation(number, hit, lang) for number, hit in enumerate(hits, start=1)]
    lines = [TOP_STORIES[lang]]
    for cited, hit in zip(citations, hits, strict=True):
        lines.append(f"[{cited.number}] {cited.title} — {outlets_label(hit, lang)} · {'/'.join(hit.story.langs)}")
        if cited.url:
            lines.append(f"    {cited.url}")
    return Answer("\n".join(lines), lang, citations, "extractive", fallback_reason)


def citation(number: int, hit: StoryHit, lang: str) -> Citation:
    return Citation(number, hit.story.id, title_for(hit, lang), best_link(hit, lang))


def title_for(hit: StoryHit, lang: str) -> str:
    """The story's headline in `lang` when it has coverage in `lang`, else in the language it has."""
    story = hit.story
    if lang in story.langs and story.title_in(lang):
        return story.title_in(lang)
    if lang in hit.items:
        return hit.items[lang].title
    return story.title or next((item.title for item in hit.items.values()), "")


def best_link(hit: StoryHit, lang: str) -> str:
    """The asker-language item closest to the question, else the story's earliest link."""
    if lang in hit.items and hit.items[lang].url:
        return hit.items[lang].url
    if hit.links:
        return hit.links[0][1]
    return next((item.url for item in hit.items.values() if item.url), "")


def outlets_label(hit: StoryHit, lang: str) -> str:
    count = hit.story.outlets
    if lang == "zh":
        return f"{count} 家来源"
    return f"{count} outlet" + ("" if count == 1 else "s")


# -- prompt ------------------------------------------------------------------------------------


def load_template(name: str = "answer.txt") -> str:
    """A prompt template shipped in the package (`bot/query/prompts/`)."""
    return (PROMPTS_DIR / name).read_text(encoding="utf-8")


def fill(template: str, slots: dict[str, str]) -> str:
    """Replace `{name}` slots in one pass (so a slot value containing braces is never re-expanded)."""
    return _SLOT.sub(lambda match: slots.get(match[1], match[0]), template)


def build_prompt(question: str, hits: Sequence[StoryHit], lang: str) -> str:
    """The answer prompt: the question, the asker's language, and only these stories, numbered from 1."""
    stories = "\n".join(story_block(number, hit) for number, hit in enumerate(hits, start=1))
    slots = {
        "question": " ".join(question.split()),
        "stories": stories,
        "language": LANGUAGE_NAMES[lang],
        "not_found": NOT_FOUND[lang],
    }
    return fill(load_template(), slots)


def story_block(number: int, hit: StoryHit) -> str:
    """One story for the prompt: date and outlets, then a title and lead per language it was covered in."""
    story = hit.story
    outlets = list(dict.fromkeys(source for source, _ in hit.links))[:MAX_OUTLETS_NAMED]
    named = f": {', '.join(outlets)}" if outlets else ""
    lines = [f"[{number}] {story.first_published:%Y-%m-%d} · {story.outlets} outlets{named}"]
    for lang in story.langs:
        item = hit.items.get(lang)
        lead = _clip(item.text, LEAD_CHARS) if item else ""
        title = story.title_in(lang) or (item.title if item else "")
        lines.append(f"    {lang}: {title}" + (f" — {lead}" if lead else ""))
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- checking the reply ------------------------------------------------------------------------


def checked_answer(reply: str, hits: Sequence[StoryHit], lang: str, max_chars: int) -> Answer:
    """The LLM's reply as an Answer, or `RejectedReply` saying which check it failed."""
    text = reply.translate(_BRACKETS).strip()
    if not text:
        raise RejectedReply("the LLM reply was empty")
    if len(text) > max_chars:
        raise RejectedReply(f"the LLM reply is too long ({len(text)} characters; limit {max_chars})")
    numbers = cited_numbers(text)
    invented = sorted(n for n in numbers if not 1 <= n <= len(hits))
    if invented:
        cited = ", ".join(f"[{n}]" for n in invented)
        raise RejectedReply(f"the LLM reply cites {cited}, but only {len(hits)} stories were given")
    claims = [segment for segment in segments(text) if not is_not_found(segment)]
    if not numbers:
        if claims:
            raise RejectedReply("the LLM reply cites no story")
        return Answer(NOT_FOUND[lang], lang, [], "llm")
    uncited = [segment for segment in claims if is_claim(segment) and not _CITATION.search(segment)]
    if uncited:
        raise RejectedReply(f"the LLM reply has a sentence without a citation: {_clip(uncited[0], 80)!r}")
    citations = [citation(n, hits[n - 1], lang) for n in sorted(numbers)]
    return Answer(text, lang, citations, "llm")


def cited_numbers(text: str) -> set[int]:
    """Every story number cited as [n], [n, m] or [n][m]."""
    return {int(n) for group in _CITATION.findall(text) for n in re.split(r"[,，、\s]+", group) if n}


def segments(text: str) -> list[str]:
    """Sentences, line by line; a citation that opens a sentence belongs to the one before ("… . [1]")."""
    result: list[str] = []
    for line in text.splitlines():
        for piece in split_sentences(line):
            leading = _LEADING_CITATIONS.match(piece)
            if leading and result:
                result[-1] += " " + leading.group().strip()
                piece = piece[leading.end() :]
            if piece.strip():
                result.append(piece.strip())
    return result


def is_claim(segment: str) -> bool:
    """Whether a sentence says something: a few words or Chinese characters, not a lead-in ending in ':'."""
    bare = _CITATION.sub("", segment).strip()
    if bare.endswith((":", "：")):
        return False
    return len(_WORD.findall(bare)) + len(HAN_CHAR.findall(bare)) / 2 >= 3


def is_not_found(segment: str) -> bool:
    """Whether a sentence is the prompt's not-found sentence (in either language, punctuation aside)."""
    bare = _normalized(segment)
    return any(_normalized(sentence) in bare for sentence in NOT_FOUND.values())


def _normalized(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())
