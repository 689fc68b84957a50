"""One- or two-sentence story summaries for digests and weekly reports, in the reader's language.

A digest line shows a story's headline; the summary under it says what happened. Without an LLM
it is extractive: the most central sentence of the story. Every item's headline and the first
sentences of its text (the lede carries the news; later sentences drift into background) become
candidates; each is embedded with the multilingual embedder, so English and Chinese sentences
share one space, and scored by cosine to the story's centroid. The centroid is the mean of one
vote per item (the mean of that item's sentence vectors), so a long article or a repost cannot
outvote the other outlets: the winner is the sentence the outlets agree on. Two small nudges
settle near-ties (checked on the shared eval set, where cosine alone sometimes chose "It is the
first algorithm to…"): a bonus for an item's first sentence, a penalty for one that opens with a
pronoun and so cannot stand alone under a headline. The winner is chosen among
sentences in the reader's language when the story has an item in that language, body sentences
before headlines (a headline repeats the digest line), else among all. Boilerplate ("Read
more", "原文链接", subscribe and cookie lines, anything with a link) and fragments are dropped
before embedding, so they neither win nor pull the centroid. Deterministic for a given embedder.

With an OpenAI-compatible endpoint, `bot/query/prompts/summary.txt` hands the LLM only the story's own
items, and the reply is checked (non-empty, at most two sentences, a length cap, the reader's
language, no links, no Markdown); any failed check or failed call falls back to the extractive
summary, logged at INFO with the reason (the client scrubs its key from every message). A failed
call (not a rejected reply) stops the LLM for the rest of the batch: a digest waits for one
timeout, not thirty.

Summaries are cached in the store per (story, language) and story *version*. The version is a
hash of the story's items' ids and content hashes, not the story's `updated_at`: the store bumps
`updated_at` whenever a feed lists an item again, unchanged, and keying on it would call the LLM
again for the same text on every fetch. The cache records how a summary was made:
`llm`, `fallback` (the LLM was asked and failed, extractive text) or `extractive` (the LLM was not
asked: none configured, or an earlier call of the same batch failed). With an LLM configured,
`llm` and `fallback` are reused for their version, so a slow or broken endpoint costs one timeout
per story version, not one per story per digest, and is tried again when the story changes; an
`extractive` summary gets an LLM attempt. Without an LLM only extractive text is used, never an
LLM text cached earlier.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from bot.core.models import Item
from bot.core.text import split_sentences
from bot.ingest.embed import Embedder
from bot.ingest.normalize import detect_language
from bot.query.answer import LANGUAGE_NAMES, PROMPTS_DIR, fill
from bot.query.llm import LlmClient, LlmError
from bot.storage import Store, StorySummary

log = logging.getLogger(__name__)

Method = Literal["extractive", "llm", "fallback"]

MAX_ITEMS = 12  # items of one story read for candidates and the prompt: a 20-outlet story stays fast
LEDE_SENTENCES = 3  # kept sentences per item
LEDE_CHARS = 1500  # of an item's text scanned for those sentences
PROMPT_LEAD_CHARS = 400  # of each item's lede shown to the LLM
# Per language; a CJK character is about two Latin ones wide and says about a word, hence half the count.
MIN_CHARS = {"en": 25, "zh": 10}  # shorter sentences are fragments ("Photo: Reuters", "详见下文")
SUMMARY_CHARS = {"en": 200, "zh": 100}  # an extractive summary is clipped here
REPLY_CHARS = {"en": 300, "zh": 150}  # an LLM reply longer than this is not a one-line summary
MAX_REPLY_SENTENCES = 2
# Nudges to a centrality (a cosine), where good candidates of one story differ by ~0.02–0.1:
LEAD_BONUS = 0.05  # for an item's first sentence after its headline
DANGLING_PENALTY = 0.1  # for a sentence opening with a pronoun ("It is the first…"), a fragment on its own


_URL = re.compile(r"https?://|www\.\w", re.I)
_BOILERPLATE = re.compile(
    r"read more|continue reading|click here|\bsubscribe\b|sign up|newsletter|cookie|all rights reserved"
    r"|appeared first on|follow us on|share this|image credit|photo credit|getty images|reporting by|editing by"
    r"|©|copyright \d{4}"
    r"|原文链接|本文来自|本文转载|转载自|阅读原文|查看原文|点击(?:这里|此处|查看|阅读|链接|进入)|欢迎订阅|点击订阅"
    r"|版权所有|版权归|免责声明|责任编辑|扫码|扫描二维码|关注.{0,12}公众号|来源[:：]",
    re.I,
)
_MARKDOWN = re.compile(r"(?m)^\s*(?:#{1,6}\s|[-*•]\s|\d+[.)]\s)|\*\*|__|`|\[[^\]]*\]\(")
_CITATION = re.compile(r"[\[【]\d+[\]】]")
_DANGLING = re.compile(r"(?:it|its|he|his|she|her|they|their)\b|[他她它其该这]", re.I)
_WORD_CHAR = re.compile(r"[A-Za-z0-9]")
_PARTIAL_WORD = re.compile(r"[A-Za-z0-9]+$")
_QUOTES = "\"'“”‘’「」『』"


@dataclass(frozen=True, slots=True)
class Summary:
    """A story's summary in `lang`; `method` says how it was made (`fallback`: the LLM failed, extractive text)."""

    text: str
    lang: str
    method: Method


@dataclass(frozen=True, slots=True)
class Candidate:
    """A sentence that could summarize the story; `item` is its item's position, its vote in the centroid.

    `lead` marks the item's first sentence after the headline: where news writing puts the news.
    """

    text: str
    lang: str
    item: int
    item_lang: str
    headline: bool = False
    lead: bool = False


class RejectedSummary(ValueError):
    """The LLM replied, but not with a short plain summary in the reader's language."""


# -- the story, many stories -------------------------------------------------------------------


def summarize_story(store: Store, story: StorySummary, lang: str, embedder: Embedder, llm: LlmClient | None) -> Summary:
    """One story's summary in `lang` (see `summarize_stories`)."""
    return summarize_stories(store, [story], lang, embedder, llm)[story.id]


def summarize_stories(
    store: Store, stories: Sequence[StorySummary], lang: str, embedder: Embedder, llm: LlmClient | None
) -> dict[int, Summary]:
    """Each story's summary in `lang`, from the cache when it holds one for the story's current items.

    The extractive work of all stories shares one `encode` call: a digest's ~30 stories cost one
    batched pass of the embedder instead of thirty.
    """
    summaries, pending = _from_cache(store, stories, lang, llm)
    written, attempted = _llm_summaries(llm, pending, lang) if llm is not None else ({}, set())
    left = [entry for entry in pending if entry.story.id not in written]
    texts = extractive_texts([entry.items for entry in left], lang, embedder)
    extracted = {entry.story.id: text for entry, text in zip(left, texts, strict=True)}
    for entry in pending:
        story_id = entry.story.id
        method: Method = "llm" if story_id in written else "fallback" if story_id in attempted else "extractive"
        text = written[story_id] if method == "llm" else extracted[story_id]
        summaries[story_id] = Summary(text, lang, method)
        store.cache_summary(story_id, lang, entry.version, method, text)
    return {story.id: summaries[story.id] for story in stories}


@dataclass(frozen=True, slots=True)
class _Pending:
    """A story with no usable cached summary, its items and its current version."""

    story: StorySummary
    items: list[Item]
    version: str


def _from_cache(
    store: Store, stories: Sequence[StorySummary], lang: str, llm: LlmClient | None
) -> tuple[dict[int, Summary], list[_Pending]]:
    """The cached summaries still right for this call, and the stories that need work (each once)."""
    summaries: dict[int, Summary] = {}
    pending = []
    for story in {story.id: story for story in stories}.values():
        items = store.story_items(story.id)
        version = story_version(items)
        cached = store.cached_summary(story.id, lang, version)
        reused = _reusable(cached[0], llm) if cached else None
        if cached and reused:
            summaries[story.id] = Summary(cached[1], lang, reused)
        else:
            pending.append(_Pending(story, items, version))
    return summaries, pending


def story_version(items: Sequence[Item]) -> str:
    """What the summary is made from: the story's items and their wording (count first, for people reading rows)."""
    digest = hashlib.sha1(usedforsecurity=False)
    for item in sorted(items, key=lambda item: item.id):
        digest.update(f"{item.id}:{item.content_hash};".encode())
    return f"{len(items)}:{digest.hexdigest()[:16]}"


def _reusable(stored: str, llm: LlmClient | None) -> Method | None:
    """How a cached summary was made, when that way is still right for whether an LLM is configured."""
    allowed: tuple[Method, ...] = ("extractive", "fallback") if llm is None else ("llm", "fallback")
    return next((method for method in allowed if method == stored), None)


# -- extractive --------------------------------------------------------------------------------


def extractive_texts(stories: Sequence[Sequence[Item]], lang: str, embedder: Embedder) -> list[str]:
    """The extractive summary of each story (given as its items), embedding every candidate in one call."""
    candidates = [story_candidates(items) for items in stories]
    vectors = embedder.encode([candidate.text for group in candidates for candidate in group])
    texts = []
    start = 0
    for group in candidates:
        chosen = pick_central(group, vectors[start : start + len(group)], lang)
        start += len(group)
        texts.append(clip(chosen.text, chosen.lang) if chosen else "")
    return texts


def story_candidates(items: Sequence[Item]) -> list[Candidate]:
    """Headline and lede sentences of up to `MAX_ITEMS` items, boilerplate and repeats within an item left out."""
    candidates = []
    for position, item in enumerate(sample_items(items)):
        title = " ".join(item.title.split())
        if title:
            candidates.append(Candidate(title, sentence_language(title, item.lang), position, item.lang, headline=True))
        for rank, sentence in enumerate(lede(item)):
            language = sentence_language(sentence, item.lang)
            candidates.append(Candidate(sentence, language, position, item.lang, lead=rank == 0))
    return candidates


def sample_items(items: Sequence[Item]) -> list[Item]:
    """At most `MAX_ITEMS` items, taken in turn from each language so every language of the story stays in."""
    seen: dict[str, int] = {}
    turns = []  # (this item's rank within its language, its position)
    for position, item in enumerate(items):
        turns.append((seen.get(item.lang, 0), position))
        seen[item.lang] = seen.get(item.lang, 0) + 1
    return [items[position] for position in sorted(position for _, position in sorted(turns)[:MAX_ITEMS])]


def lede(item: Item) -> list[str]:
    """The item's first `LEDE_SENTENCES` sentences that are news, not boilerplate nor its headline again."""
    seen = {_bare(item.title)}
    kept = []
    for sentence in split_sentences(item.text[:LEDE_CHARS]):
        if _bare(sentence) in seen or is_boilerplate(sentence, sentence_language(sentence, item.lang)):
            continue
        seen.add(_bare(sentence))
        kept.append(sentence)
        if len(kept) == LEDE_SENTENCES:
            break
    return kept


def pick_central(candidates: Sequence[Candidate], vectors: np.ndarray, lang: str) -> Candidate | None:
    """The candidate closest to the story's centroid, from the best pool for a reader of `lang`.

    Pools, first non-empty wins: body sentences in `lang` from items in `lang`, then their
    headlines; when the story has no item in `lang`, body sentences of any language, then headlines.
    """
    if not candidates:
        return None
    scores = centrality(candidates, vectors) + [_prior(candidate) for candidate in candidates]
    in_lang = [i for i, c in enumerate(candidates) if c.lang == lang and c.item_lang == lang]
    pool = in_lang or list(range(len(candidates)))
    body = [i for i in pool if not candidates[i].headline]
    return candidates[max(body or pool, key=lambda i: scores[i])]


def _prior(candidate: Candidate) -> float:
    """A nudge between near-equally central sentences: toward a lead, away from one that needs the sentence before."""
    return LEAD_BONUS * candidate.lead - DANGLING_PENALTY * bool(_DANGLING.match(candidate.text))


def centrality(candidates: Sequence[Candidate], vectors: np.ndarray) -> np.ndarray:
    """Cosine of each candidate to the centroid of one vote per item (the mean of that item's candidates)."""
    positions = np.array([candidate.item for candidate in candidates])
    votes = np.stack([vectors[positions == item].mean(axis=0) for item in np.unique(positions)])
    centroid = votes.mean(axis=0)
    norm = float(np.linalg.norm(centroid))
    return vectors @ (centroid / norm if norm else centroid)


def clip(text: str, lang: str) -> str:
    """`text` cut to the summary length of `lang` with "…", never inside a Latin word or number.

    Chinese may be cut after any character, but an English name inside it ("AlphaFold") may not.
    """
    limit = _per_language(SUMMARY_CHARS, lang)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if _WORD_CHAR.match(text[len(cut)]):
        cut = _PARTIAL_WORD.sub("", cut) or cut
    return cut.rstrip(" ,;:，、；：-—") + "…"


def is_boilerplate(sentence: str, lang: str) -> bool:
    """Whether a sentence is site furniture or a fragment rather than news."""
    if len(sentence) < _per_language(MIN_CHARS, lang):
        return True
    return bool(_URL.search(sentence) or _BOILERPLATE.search(sentence))


def sentence_language(sentence: str, item_lang: str) -> str:
    """`zh` or `en` by the sentence's own script; the item's language when the script does not say."""
    found = detect_language(sentence)
    return found if found in ("zh", "en") else item_lang


def _per_language(table: dict[str, int], lang: str) -> int:
    return table.get(lang, table["en"])


def _bare(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


# -- LLM ---------------------------------------------------------------------------------------


def _llm_summaries(llm: LlmClient, stories: Sequence[_Pending], lang: str) -> tuple[dict[int, str], set[int]]:
    """The checked LLM summary of each story it could write, and the ids of the stories it was asked about.

    A rejected reply concerns one story; a failed call (timeout, refused, HTTP error) means the
    endpoint is in trouble, so the rest of the batch is not asked: a digest waits for one timeout,
    not thirty. The stories not asked stay plain extractive and get their attempt next time.
    """
    written: dict[int, str] = {}
    attempted: set[int] = set()
    for entry in stories:
        story = entry.story
        attempted.add(story.id)
        try:
            reply = llm.complete([{"role": "user", "content": build_prompt(entry.items, lang)}])
            written[story.id] = checked_summary(reply, lang)
        except RejectedSummary as exc:
            log.info("story %d (%s): LLM summary not used, extractive instead: %s", story.id, lang, exc)
        except LlmError as exc:
            log.info("story %d (%s): LLM summary not used, extractive instead: %s", story.id, lang, exc)
            if len(attempted) < len(stories):
                log.info(
                    "%d more stories of this batch stay extractive, the LLM not asked", len(stories) - len(attempted)
                )
            break
    return written, attempted


def load_template() -> str:
    """The summary prompt shipped in the package (`bot/query/prompts/summary.txt`)."""
    return (PROMPTS_DIR / "summary.txt").read_text(encoding="utf-8")


def build_prompt(items: Sequence[Item], lang: str) -> str:
    """The summary prompt: the reader's language, the length cap, and this story's items only."""
    slots = {
        "language": LANGUAGE_NAMES.get(lang, LANGUAGE_NAMES["en"]),
        "max_chars": str(_per_language(REPLY_CHARS, lang)),
        "items": "\n".join(item_block(item) for item in sample_items(items)),
    }
    return fill(load_template(), slots)


def item_block(item: Item) -> str:
    """One report for the prompt: outlet, date, headline, and its lede without boilerplate or links."""
    lead = " ".join(lede(item))
    if len(lead) > PROMPT_LEAD_CHARS:
        lead = lead[: PROMPT_LEAD_CHARS - 1] + "…"
    header = f"- {item.source}, {item.published:%Y-%m-%d}: {' '.join(item.title.split())}"
    return header + (f"\n  {lead}" if lead else "")


def checked_summary(reply: str, lang: str) -> str:
    """The reply as a summary, or `RejectedSummary` naming the check it failed."""
    if _URL.search(reply):
        raise RejectedSummary("the LLM reply has a link")
    if _MARKDOWN.search(reply):
        raise RejectedSummary("the LLM reply has Markdown")
    if _CITATION.search(reply):
        raise RejectedSummary("the LLM reply has citation marks")
    text = " ".join(reply.split()).strip(_QUOTES + " ")
    if not text:
        raise RejectedSummary("the LLM reply was empty")
    limit = _per_language(REPLY_CHARS, lang)
    if len(text) > limit:
        raise RejectedSummary(f"the LLM reply is too long ({len(text)} characters; limit {limit})")
    sentences = len(split_sentences(text))
    if sentences > MAX_REPLY_SENTENCES:
        raise RejectedSummary(f"the LLM reply has {sentences} sentences; at most {MAX_REPLY_SENTENCES}")
    found = detect_language(text)
    if found != lang:
        raise RejectedSummary(f"the LLM reply is in {found}, not {lang}")
    return text
