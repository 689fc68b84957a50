"""How a topic reads: class-based TF-IDF terms over its stories' English and Chinese headlines.

Apart from the clustering because it works on text only, and both the full recompute and the daily
path (which relabels against the term weights of the last recompute) use it, as do theme suggestions.

**Labels**: class-based TF-IDF over the stories' English and Chinese headlines, each topic against
the other topics of its theme (and the theme's noise, as BERTopic's outlier class): English words
and adjacent word pairs (lower-cased, stop words dropped, model names such as "GPT-4o", "Llama 3"
kept whole), Chinese character 2–4-grams with sub-n-grams dropped when a longer n-gram covers
them, and quoted Chinese names (「可灵」) whole. Names (mixed case, digits, known organisations)
weigh more. Overlapping Chinese n-grams that were one word in the headlines ("视频生成" +
"生成模型") are joined back ("视频生成模型"). No segmenter: jieba is not a dependency, and
n-grams scored against the other topics find the same words on headlines this short.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.core.text import HAN
from bot.ingest.people.lexicon import KNOWN_ORGS, ZH_ORGS
from bot.insight.topics.model import DOMINANCE, LABEL_TERMS, NAME_BOOST
from bot.storage import StorySummary


@dataclass(frozen=True, slots=True)
class _Term:
    key: str  # what is counted: English lower-cased, Chinese as written
    text: str  # what is shown
    lang: str
    name: bool


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_EN_STOP = _word_set(
    """a about above after again against all also am an and any are as at be been before being below between both
    but by can could did do does doing down during each few for from further had has have having he her here hers
    him his how i if in into is it its itself just me more most my no nor not now of off on once only or other our
    out over own same she should so some such than that the their theirs them then there these they this those
    through to too under until up very was we were what when where which while who whom why will with would you
    your yours via vs amid per across within without toward towards onto upon among
    ai model models new says said say announces announced unveils unveiled launches launched releases released
    introduces introduced debuts reveals revealed shows show adds gets get makes make made using used use based
    report reports paper study research researchers first one two three big top latest now today week year years
    day days how why what first-ever billion million percent inc co ltd corp com www https http
    """
)
_GENERIC_ACRONYMS = _word_set("AI CEO CTO COO CFO API GPU GPUS LLM LLMS AGI ML RL NLP US UK")
_KNOWN_NAMES = frozenset(name.lower() for name in KNOWN_ORGS)
_ZH_STOP_EDGE = frozenset("是在和与及将把被等也都就而对从向为于由其之个这那让给并或又会已再还更很")
_ZH_FILLERS = _word_set(  # verbs and fillers of headlines: not terms, and not the edge of one ("发布视频")
    """发布 宣布 推出 正式 最新 首个 全球 如何 什么 可以 我们 他们 一个 已经 今天 今日 为何 之后 以及
    通过 进行 没有 表示 认为 可能 成为 来自 近日 日前 消息 报道 一文 文章 重磅 突破 震撼 官宣"""
)
_ZH_GENERIC = _word_set("模型 人工 智能 人工智能 研究 论文 公司 亿元 万元 技术 能力 方法")  # too broad to label with
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9]*(?:[-.·'’][A-Za-z0-9]+)*")
_VERSION = re.compile(r"\d+(?:\.\d+)*[A-Za-z]{0,2}")
_DIGIT = re.compile(r"\d")
_HAN_RUN = re.compile(f"[{HAN}]+")
_ZH_RUN = re.compile(f"(?:(?![的了着过吗呢吧啊])[{HAN}])+")  # Han runs cut at particles
_QUOTED = re.compile(f"[「『《“]([{HAN}]{{2,12}})[」』》”]")


STRONG, CAPITAL, SILENT, LOWER = 2, 1, 0, -1  # what one occurrence says about an English term being a name


class _Vocabulary:
    """Turns headlines into term keys, and knows how each English term is best shown and whether it is a name.

    Capitals are evidence only where the headline does not capitalise anyway (not its first word,
    not a Title Case headline): "Figure" mid-sentence votes for a name, "video" in lower case votes
    against "Video" in "Stable Video Diffusion". Mixed case, digits and known organisations are
    names outright. Chinese n-grams describe themselves (shown as written; a name when a known
    organisation or quoted), so nothing is stored for them: they are most of the keys.
    """

    def __init__(self) -> None:
        self._shown: dict[str, str] = {}  # English key → its form when shown as a name
        self._votes: Counter[str] = Counter()
        self._strong: set[str] = set()
        self._quoted: set[str] = set()

    def keys(self, story: StorySummary) -> set[str]:
        """The term keys of a story's headlines (each language's first), each once."""
        keys: set[str] = set()
        for title in dict.fromkeys(filter(None, (story.title_en, story.title_zh))) or (story.title,):
            self._english(title, keys)
            self._chinese(title, keys)
        return keys

    def term(self, key: str) -> _Term:
        if key in self._shown:
            name = key in self._strong or self._votes[key] > 0
            return _Term(key, self._shown[key] if name else key, "en", name)
        return _Term(key, key, "zh", key in self._quoted or key in ZH_ORGS)

    def _english(self, title: str, keys: set[str]) -> None:
        """Words (stop words out), names with their version ("Llama 3"), and pairs of adjacent kept words."""
        matches = list(_WORD.finditer(title))
        words = [match.group() for match in matches]
        title_case = _is_title_case(words)
        previous: tuple[str, int, int, int] | None = None  # the last kept single word: key, evidence, start, end
        position = 0
        while position < len(matches):
            first, start, end = position == 0, matches[position].start(), matches[position].end()
            text = words[position].removesuffix("'s").removesuffix("’s")
            following = matches[position + 1] if position + 1 < len(matches) else None
            if following is not None and _is_versioned(text, following.group(), title[end : following.start()]):
                position += 1
                text, end = f"{text} {words[position]}", matches[position].end()
            position += 1
            word = _english_word(text, first, title_case)
            if word is None:
                previous = None
                continue
            key, evidence = word
            self._count(key, text, evidence, keys)
            if previous is not None and title[previous[3] : start] in (" ", "-"):
                written = title[previous[2] : end].removesuffix("'s").removesuffix("’s")
                self._count(f"{previous[0]} {key}", written, _pair_evidence(previous[1], evidence, written), keys)
            previous = (key, evidence, start, end) if " " not in key else None

    def _chinese(self, title: str, keys: set[str]) -> None:
        """Quoted names whole, and the character 2–4-grams of the Han runs that can be words."""
        for quoted in _QUOTED.findall(title):
            self._quoted.add(quoted)
            keys.add(quoted)
        for run in _ZH_RUN.findall(title):
            edge_ok = [char not in _ZH_STOP_EDGE for char in run]
            filler = [run[i : i + 2] in _ZH_FILLERS for i in range(len(run) - 1)]
            for start in range(len(run) - 1):
                if not edge_ok[start] or filler[start]:
                    continue
                for stop in range(start + 2, min(start + 4, len(run)) + 1):
                    if edge_ok[stop - 1] and not filler[stop - 2] and run[start:stop] not in _ZH_GENERIC:
                        keys.add(run[start:stop])

    def _count(self, key: str, written: str, evidence: int, keys: set[str]) -> None:
        keys.add(key)
        if key not in self._shown or (evidence > SILENT and self._shown[key] == key):
            self._shown[key] = written if evidence > SILENT else key
        if evidence == STRONG:
            self._strong.add(key)
        elif evidence != SILENT:
            self._votes[key] += evidence


def _pair_evidence(first: int, second: int, written: str) -> int:
    """Two adjacent words: a name when both are, or when one is and both are capitalised ("Stable Diffusion 3")."""
    if first > SILENT and second > SILENT:
        return min(first, second)
    if max(first, second) > SILENT and all(word[:1].isupper() or word[:1].isdigit() for word in written.split()):
        return CAPITAL
    return LOWER if first == second == LOWER else SILENT


def _is_versioned(text: str, following: str, gap: str) -> bool:
    """ "Llama 3", "Claude 3.5", "Gemini 1.5": a capitalised name, one space, a version."""
    return (
        following[:1].isdigit()
        and gap == " "
        and text[:1].isupper()
        and text.lower() not in _EN_STOP
        and _VERSION.fullmatch(following) is not None
    )


def _english_word(text: str, first: bool, title_case: bool) -> tuple[str, int] | None:
    """(key, evidence of a name), or None for a stop word or a number; only non-names are singularised."""
    key = text.lower()
    if len(key) < 2 or key in _EN_STOP or key.replace(".", "").isdigit():
        return None
    evidence = _name_evidence(text, first, title_case)
    if evidence <= SILENT:
        key = _singular(key)
    return None if key in _EN_STOP else (key, evidence)


def _singular(word: str) -> str:
    """ "models" counts with "model"; "-ss", "-us", "-is" endings are not plurals."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-3] + "y" if word.endswith("ies") else word[:-1]
    return word


def _name_evidence(text: str, first: bool, title_case: bool) -> int:
    """Mixed case, digits and known organisations are names; a capital counts only where headlines don't add one."""
    if text.upper() in _GENERIC_ACRONYMS:
        return LOWER
    rest = text[1:]
    if rest != rest.lower() or _DIGIT.search(text) or text.lower() in _KNOWN_NAMES:
        return STRONG
    if first or title_case:
        return SILENT
    return CAPITAL if text[:1].isupper() else LOWER


def _is_title_case(words: Sequence[str]) -> bool:
    long_words = [word for word in words[1:] if len(word) > 3]
    return bool(long_words) and sum(word[:1].isupper() for word in long_words) >= 0.6 * len(long_words)


@dataclass(frozen=True, slots=True)
class _Class:
    """One class of the TF-IDF: its size, its stories and how many of them hold each term that can label it."""

    size: int
    counts: dict[str, int]
    members: Sequence[StorySummary]


class _Labeller:
    """Class-based TF-IDF over a theme's topics: w(t, c) = share of c's stories with t × log(1 + A / f(t)).

    A topic is a class, and the theme's noise is one more (BERTopic's outlier class), so a word
    every story of the theme uses weighs little everywhere. f(t) counts the stories with t over all
    classes and A is the mean number of term occurrences per class. Scores count stories, not
    occurrences: a headline repeating a word says it once.
    """

    def __init__(self, frequency: Mapping[str, int], terms_per_class: float) -> None:
        self._frequency = frequency
        self.terms_per_class = terms_per_class
        self._vocabulary = _Vocabulary()
        self._classes: list[_Class] = []

    @classmethod
    def fit(cls, topics: Sequence[Sequence[StorySummary]], noise: Sequence[StorySummary]) -> _Labeller:
        frequency: Counter[str] = Counter()
        labeller = cls(frequency, 0.0)
        for members in topics:
            labeller._classes.append(labeller._class(members, frequency))
        if noise:
            labeller._class(noise, frequency)
        labeller.terms_per_class = sum(frequency.values()) / max(len(topics) + (1 if noise else 0), 1)
        return labeller

    def frequency_to_keep(self) -> dict[str, int]:
        """The term frequencies the incremental path needs: a term seen once tells no more than its absence."""
        return {term: count for term, count in self._frequency.items() if count >= 2}

    def label(self, index: int) -> tuple[str, ...]:
        return _label_terms(self._scored(self._classes[index]), self._classes[index].members)

    def ranked(self, index: int) -> list[tuple[float, _Term]]:
        return _without_overlaps(self._scored(self._classes[index]), self._classes[index].members)

    def label_members(self, members: Sequence[StorySummary]) -> tuple[str, ...]:
        return _label_terms(self._scored(self._class(members)), members)

    def _class(self, members: Sequence[StorySummary], frequency: Counter[str] | None = None) -> _Class:
        """Count the members' terms (into `frequency` too, when fitting); keep those that can label the class."""
        counts: Counter[str] = Counter()
        for story in members:
            counts.update(self._vocabulary.keys(story))
        if frequency is not None:
            frequency.update(counts)
        floor = 2 if len(members) > 1 and any(count >= 2 for count in counts.values()) else 1
        return _Class(len(members), {key: count for key, count in counts.items() if count >= floor}, members)

    def _scored(self, group: _Class) -> list[tuple[float, _Term]]:
        dominated = _dominated(group.counts)
        average = self.terms_per_class or sum(group.counts.values())
        scored = []
        for key, count in group.counts.items():
            if key in dominated:
                continue
            term = self._vocabulary.term(key)
            frequency = max(self._frequency.get(key, 0), count)
            weight = count / group.size * math.log(1 + average / frequency) * (NAME_BOOST if term.name else 1.0)
            scored.append((weight, term))
        scored.sort(key=lambda pair: (-pair[0], -len(pair[1].key), pair[1].key))
        return scored


def _dominated(counts: Mapping[str, int]) -> set[str]:
    """Terms inside a longer kept term that carries at least DOMINANCE of their stories."""
    dominated: set[str] = set()
    for key, count in counts.items():
        for part in _parts(key):
            if part in counts and count >= DOMINANCE * counts[part]:
                dominated.add(part)
    return dominated


def _parts(key: str) -> list[str]:
    """The shorter terms a term contains: the words of an English pair, the 2–4-grams of a Chinese term."""
    if " " in key:
        head, tail = key.split(" ", 1)
        start, last = key.rsplit(" ", 1)
        return [head, tail, start, last]
    if not _HAN_RUN.fullmatch(key) or len(key) < 3:
        return []
    return [key[i : i + n] for n in range(2, min(4, len(key) - 1) + 1) for i in range(len(key) - n + 1)]


def _without_overlaps(
    scored: Sequence[tuple[float, _Term]], members: Sequence[StorySummary]
) -> list[tuple[float, _Term]]:
    """The ranking without terms that repeat a better one, overlapping Chinese n-grams joined into one word.

    N-grams that overlap in the headlines ("视频生成", "生成模型") and weigh about the same were one
    word there ("视频生成模型"); a weaker overlapping one is a fragment of the better and is dropped.
    """
    headlines = [f"{story.title_en} {story.title_zh} {story.title}" for story in members]
    chosen: list[tuple[float, _Term]] = []
    for weight, term in scored:
        for index, (kept_weight, kept) in enumerate(chosen):
            if _same_words(term, kept):
                if len(term.key) > len(kept.key) and weight >= DOMINANCE * kept_weight:
                    chosen[index] = (kept_weight, term)
                break
            joined = _joined(kept, term, headlines)
            if joined is not None:
                if weight >= DOMINANCE * kept_weight:
                    chosen[index] = (kept_weight, joined)
                break
        else:
            chosen.append((weight, term))
    return chosen


def _joined(kept: _Term, term: _Term, headlines: Sequence[str]) -> _Term | None:
    """`kept` grown by `term` when the two overlap in a headline; the longer when one contains the other; else None."""
    if kept.lang != "zh" or term.lang != "zh":
        return None
    if term.key in kept.key:
        return kept
    if kept.key in term.key:
        return term
    for overlap in range(min(len(kept.key), len(term.key)) - 1, 0, -1):
        for left, right in ((kept.key, term.key), (term.key, kept.key)):
            if left[-overlap:] == right[:overlap]:
                whole = left + right[overlap:]
                if any(whole in headline for headline in headlines):
                    return _Term(whole, whole, "zh", kept.name or term.name)
    return None


def _label_terms(scored: Sequence[tuple[float, _Term]], members: Sequence[StorySummary]) -> tuple[str, ...]:
    """The best LABEL_TERMS terms, with each language that has a candidate represented."""
    ranked = _without_overlaps(scored, members)
    picks: list[tuple[float, _Term]] = []
    for lang in ("en", "zh"):
        best = next((pair for pair in ranked if pair[1].lang == lang), None)
        if best is not None:
            picks.append(best)
    picks += [pair for pair in ranked if pair not in picks][: max(LABEL_TERMS - len(picks), 0)]
    picks.sort(key=lambda pair: -pair[0])
    return tuple(term.text for _, term in picks[:LABEL_TERMS])


def _same_words(term: _Term, other: _Term) -> bool:
    """An English word inside an English pair (either way round) repeats it."""
    if term.lang != "en" or other.lang != "en":
        return False
    return f" {term.key} " in f" {other.key} " or f" {other.key} " in f" {term.key} "
