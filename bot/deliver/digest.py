"""Choose, rank and render the stories one subscriber has not seen yet, within Telegram's limits.

A digest reads stories, never raw items: one event told by seven outlets in two languages is one
line that says so. Selection is a pure function of data and `now` (DESIGN §5.2), so tests pass a
fixed clock and hand-built stories; the only I/O is `prepare_digest` (reads the store) and
`mark_sent` (records what was shown). What counts as delivered is exactly what the digest shows:
a story cut by the cap stays eligible for the next digest.

Rendering targets Telegram's HTML parse mode, where one unescaped `<` or `&` in a headline makes
Telegram reject the whole message. Every dynamic string goes through `html.escape`; only `b`, `i`
and `a href` tags are emitted. Messages are split at story boundaries under a margin below Telegram's
4096-character limit, measured in UTF-16 code units over the HTML source (never shorter than what
Telegram counts after parsing, so the bound holds whatever the markup).
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from bot.core.config import Settings, WebConfig
from bot.core.models import OTHER_THEME, PEOPLE_THEME, Subscriber
from bot.core.words import theme_heading, word
from bot.ingest.pipeline import Pipeline
from bot.query.answer import Summarize
from bot.query.interest import as_counted, counted, follow_matches, in_themes, muted_stories
from bot.query.llm import LlmClient
from bot.query.summary import summarize_stories
from bot.render.moves import move_sentence, richest, same_person
from bot.render.split import pack_blocks, utf16_len
from bot.storage import Store, StorySummary

FOLLOW_PREFIX = "follow:"  # section key of the stories one follow pulled in: "follow:<the follow's text>"
# Cosine between a follow and a story's best item that counts as a match: fitted by tools/calibrate_follow.py
# (F1 on the 2020–21 and 2022 sets' query/story pairs; on the 2023–24 set left out: precision 0.46, recall 0.45).
FOLLOW_THRESHOLD = 0.37
HALF_LIFE_HOURS = 24.0  # a story's recency weight halves every day since its latest item
DEFAULT_LOOKBACK = timedelta(hours=24)  # the window of a subscriber's first digest
CANDIDATE_LIMIT = 1000
MESSAGE_BUDGET = 3800  # Telegram allows 4096 UTF-16 units of text; keep a margin
MAX_TITLE_CHARS = 300
MAX_SUMMARY_CHARS = 240
MAX_LINKS = 3

Links = Mapping[int, Sequence[tuple[str, str]]]


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """One story as the digest shows it; `follow` is the follow's text when a follow pulled it in."""

    story: StorySummary
    score: float
    followed: bool = False
    follow: str = ""
    follow_score: float = 0.0


@dataclass(frozen=True, slots=True)
class MoveLine:
    """One people move from a shown story, read as a sentence in the reader's language (`sentence`)."""

    person: str
    from_org: str
    to_org: str
    role: str
    action: str
    story_id: int

    def sentence(self, lang: str) -> str:
        """ "Jan Leike left OpenAI for Anthropic, to lead superalignment"; "" when only the name is known."""
        fields = {"person": self.person, "from_org": self.from_org, "to_org": self.to_org, "role": self.role}
        return move_sentence({**fields, "action": self.action}, lang)


@dataclass(frozen=True, slots=True)
class Digest:
    """What one chat gets: sections in display order, people moves, and what was left out."""

    chat_id: int
    sections: list[tuple[str, list[DigestEntry]]]
    moves: list[MoveLine]
    overflow: int
    story_ids: list[int]  # exactly the stories shown: what counts as delivered once sent
    generated_at: datetime
    since: datetime | None = None  # the window's start: a "more" page reads the same window again
    page: bool = False  # a "more" page: the rest of an earlier digest, titled as such

    @property
    def empty(self) -> bool:
        return not self.story_ids

    @property
    def stories(self) -> list[StorySummary]:
        """The stories shown, in display order."""
        return [entry.story for _, entries in self.sections for entry in entries]


# -- selection (pure) ------------------------------------------------------------------------


def select_digest(
    candidates: Sequence[StorySummary],
    delivered: set[int],
    subscriber: Subscriber,
    follow_scores: Mapping[int, float],
    source_weights: Mapping[str, float] | None,
    now: datetime,
    limit: int = 30,
    follow_threshold: float = FOLLOW_THRESHOLD,
    *,
    follow_texts: Mapping[int, str] | None = None,
    story_sources: Mapping[int, Sequence[str]] | None = None,
    theme_order: Sequence[str] = (),
) -> Digest:
    """The subscriber's next digest from `candidates`, ranked at `now` and capped at `limit` stories.

    A story qualifies when this chat has not had it and it is in one of the subscriber's themes
    (none chosen = all), or when a follow matched it (`follow_scores[id] >= follow_threshold`,
    whatever its theme). Followed stories rank first, then by `story_score`. `story_sources`
    names each story's outlets, which `source_weights` weighs (missing = 1).
    """
    chosen = set(subscriber.themes)
    entries: list[DigestEntry] = []
    for story in {story.id: story for story in candidates}.values():
        if story.id in delivered:
            continue
        followed = follow_scores.get(story.id, 0.0) >= follow_threshold
        if not followed and not in_themes(story, chosen):
            continue
        weight = _story_weight((story_sources or {}).get(story.id, ()), source_weights)
        entries.append(
            DigestEntry(
                story=story,
                score=story_score(story, now, weight),
                followed=followed,
                follow=((follow_texts or {}).get(story.id) or "") if followed else "",
                follow_score=follow_scores.get(story.id, 0.0) if followed else 0.0,
            )
        )
    entries.sort(key=_rank_key)
    shown = entries[: max(limit, 0)]
    sections = _sections(shown, chosen, theme_order)
    moves = collect_moves(entry.story for entry in shown)
    if moves and all(key != PEOPLE_THEME for key, _ in sections):
        sections = _sections(shown, chosen, theme_order, with_people=True)
    return Digest(
        chat_id=subscriber.chat_id,
        sections=sections,
        moves=moves,
        overflow=len(entries) - len(shown),
        story_ids=[entry.story.id for _, section in sections for entry in section],
        generated_at=now,
    )


def preview_url(digest: Digest, links: Links) -> str | None:
    """The link whose preview a chat that asked for previews sees under a digest: the top-ranked story's first
    link (its earliest outlet), if it is a safe http(s) link."""
    entries = [entry for _, section in digest.sections for entry in section]
    if not entries:
        return None
    top = min(entries, key=_rank_key).story
    return next((url for _, url in links.get(top.id, ()) if _safe_url(url)), None)


def grew_since_alert(story: StorySummary, alerted: tuple[int, int]) -> bool:
    """Whether a story the chat got an alert for has more outlets or languages than then (so a digest shows it)."""
    outlets, langs = alerted
    return story.outlets > outlets or len(story.langs) > langs


def story_score(story: StorySummary, now: datetime, weight: float = 1.0) -> float:
    """Breadth (outlets × languages) × recency (halving every HALF_LIFE_HOURS) × source weight."""
    breadth = max(story.outlets, 1) * max(len(story.langs), 1)
    hours = max((now - story.last_published).total_seconds() / 3600, 0.0)
    return weight * breadth * 0.5 ** (hours / HALF_LIFE_HOURS)


def collect_moves(stories: Iterable[StorySummary]) -> list[MoveLine]:
    """Every stated move of these stories, once: one person once per story (their most complete move,
    whatever the spelling), and the same person between the same organisations once across stories."""
    seen: set[tuple[str, str, str]] = set()
    lines: list[MoveLine] = []
    for story in stories:
        people: list[list[Mapping[str, str]]] = []
        for move in story.moves:
            if not (move.get("person") or "").strip():
                continue
            group = next((g for g in people if same_person(g[0]["person"], move["person"])), None)
            if group is None:
                people.append([move])
            else:
                group.append(move)
        for group in people:
            chosen = richest(group)
            line = MoveLine(
                person=(chosen.get("person") or "").strip(),
                from_org=(chosen.get("from_org") or "").strip(),
                to_org=(chosen.get("to_org") or "").strip(),
                role=(chosen.get("role") or "").strip(),
                action=chosen.get("action") or "",
                story_id=story.id,
            )
            key = (_fold(line.person), _fold(line.from_org), _fold(line.to_org))
            if key not in seen:
                seen.add(key)
                lines.append(line)
    return lines


def _story_weight(sources: Sequence[str], weights: Mapping[str, float] | None) -> float:
    """The best weight among the outlets that carried the story (1 when unknown)."""
    if not weights or not sources:
        return 1.0
    return max(weights.get(source, 1.0) for source in sources)


def _rank_key(entry: DigestEntry) -> tuple[bool, float, float, int]:
    return (not entry.followed, -entry.score, -entry.story.last_published.timestamp(), entry.story.id)


def _section_key(entry: DigestEntry, chosen: set[str]) -> str:
    if entry.followed:
        return FOLLOW_PREFIX + entry.follow
    story = entry.story
    if not chosen or story.primary_theme in chosen:
        return story.primary_theme or OTHER_THEME
    return next(theme for theme in story.themes if theme in chosen)


def _sections(
    entries: Sequence[DigestEntry], chosen: set[str], theme_order: Sequence[str], with_people: bool = False
) -> list[tuple[str, list[DigestEntry]]]:
    """Group by section (entries keep their rank order): follows first, then themes in config order."""
    grouped: dict[str, list[DigestEntry]] = {PEOPLE_THEME: []} if with_people else {}
    for entry in entries:
        grouped.setdefault(_section_key(entry, chosen), []).append(entry)
    position = {theme: index for index, theme in enumerate(theme_order)}

    def order(key: str) -> tuple[int, int, str]:
        if key.startswith(FOLLOW_PREFIX):
            return (0, 0, "")
        if key in position:
            return (1, position[key], key)
        return (2, (key == OTHER_THEME) + 2 * (key == PEOPLE_THEME), key)

    return sorted(grouped.items(), key=lambda pair: order(pair[0]))


def _fold(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


# -- rendering (pure) ------------------------------------------------------------------------


def render_digest(
    digest: Digest,
    lang: str,
    links: Links,
    *,
    budget: int = MESSAGE_BUDGET,
    summaries: Mapping[int, str] | None = None,
    web: WebConfig | None = None,
    pageable: bool = False,
) -> list[str]:
    """Telegram HTML messages, each at most `budget` UTF-16 units, split only between blocks.

    `pageable`: the reader can ask for the stories beyond the cap (the chat's "more" button and
    `/digest more`), so the overflow line says how.

    A block is the title, a section heading with its first line (a heading never ends a message),
    one story (its line, and its one-line summary under it when `summaries` has one), or one move
    line; a story too long for a message is shortened. With `web.base_url` each title links its story page.
    """
    summaries = summaries or {}
    if digest.empty and not digest.overflow:
        return [_t("empty", lang)]
    title = (
        _t("title_more", lang, n=len(digest.story_ids)) if digest.page else _t("title", lang, n=len(digest.story_ids))
    )
    blocks = [[title]]
    for key, entries in digest.sections:
        lines = [line for move in digest.moves if (line := render_move(move, lang))] if key == PEOPLE_THEME else []
        lines += [
            render_story(
                entry.story,
                lang,
                links.get(entry.story.id, ()),
                budget,
                summaries.get(entry.story.id, ""),
                page=web.story_url(entry.story.id) if web else None,
            )
            for entry in entries
        ]
        blocks.extend(_section_blocks(section_heading(key, lang), lines))
    if digest.overflow:
        hint = _t("more_hint", lang) if pageable else ""
        blocks.append(["", f"<i>{_t('overflow', lang, n=digest.overflow)}{hint}</i>"])
    headings = [section_heading(key, lang) for key, _ in digest.sections]
    room = max((utf16_len(_continued(heading, lang)) + 1 for heading in headings), default=0)
    return _repeat_headings(pack_blocks(blocks, max(budget - room, 1)), headings, lang)


def _repeat_headings(messages: list[str], headings: Sequence[str], lang: str) -> list[str]:
    """A message that opens in the middle of a section starts with that section's heading again, marked as
    continued, so a reader of the second message knows where its stories belong (room was kept for it)."""
    repeated: list[str] = []
    current = ""
    for message in messages:
        lines = message.split("\n")
        if current and lines[0].startswith("• "):
            message = f"{_continued(current, lang)}\n{message}"
        current = next((line for line in reversed(lines) if line in headings), current)
        repeated.append(message)
    return repeated


def _continued(heading: str, lang: str) -> str:
    return f"{heading} <i>{_t('continued', lang)}</i>"


def render_alert(
    story: StorySummary, lang: str, links: Sequence[tuple[str, str]], follow_text: str = "", page: str | None = None
) -> str:
    """One breaking alert: a heading (why it came), then the story's line with its links."""
    heading = _t("breaking_follow", lang, text=escape(_clip(follow_text, 100))) if follow_text else None
    return f"{heading or _t('breaking', lang)}\n{render_story(story, lang, links, MESSAGE_BUDGET, page=page)}"


def _t(key: str, lang: str, **values: object) -> str:
    return word(f"digest.{key}", lang, **values)


def section_heading(key: str, lang: str) -> str:
    if key.startswith(FOLLOW_PREFIX):
        text = key.removeprefix(FOLLOW_PREFIX) or _t("followed", lang)
        return f"<b>{_t('follow', lang, text=escape(_clip(text, 100)))}</b>"
    return f"<b>{escape(theme_heading(key, lang))}</b>"


def _section_blocks(heading: str, lines: list[str]) -> list[list[str]]:
    if not lines:
        return []
    return [["", heading, lines[0]], *([line] for line in lines[1:])]


def render_move(move: MoveLine, lang: str) -> str:
    """The move's bullet line in `lang`; "" for a move that states nothing beyond a name (left out)."""
    sentence = move.sentence(lang)
    return f"• {escape(_clip(sentence, MAX_TITLE_CHARS))}" if sentence else ""


def render_story(
    story: StorySummary,
    lang: str,
    links: Sequence[tuple[str, str]],
    budget: int,
    summary: str = "",
    page: str | None = None,
) -> str:
    """One line per story: title (linking the story's `page` on the web site when given), date, outlets
    and languages, links, then its summary in italics below; if it is too long, the summary goes first,
    then links, then the title is shortened."""
    title = _clip(" ".join(story.title_in(lang).split()), MAX_TITLE_CHARS)
    summary = _clip(" ".join(summary.split()), MAX_SUMMARY_CHARS)
    if summary and _fold(summary) == _fold(title):
        summary = ""  # a summary that only repeats the headline says nothing
    outlets = _t("outlets", lang, n=story.outlets) if story.outlets != 1 else _t("outlet", lang)
    when = f"{story.first_published:%Y-%m-%d}"  # when it broke: a "more" page or an alert may come days later
    meta = escape(" · ".join(part for part in (when, outlets, "/".join(story.langs)) if part))
    anchors = [_anchor(source, url) for source, url in links if _safe_url(url)][:MAX_LINKS]
    while True:
        tail = " · " + ", ".join(anchors) if anchors else ""
        below = f"\n   <i>{escape(summary)}</i>" if summary else ""
        heading = f'<a href="{escape(page)}">{escape(title)}</a>' if page and _safe_url(page) else escape(title)
        line = f"• {heading} — {meta}{tail}{below}"
        if utf16_len(line) <= budget:
            return line
        if summary:
            summary = ""
        elif anchors:
            anchors.pop()
        elif len(title) > 1:
            title = _clip(title, len(title) * 3 // 4)
        else:
            return line  # only a budget smaller than the metadata gets here


def _anchor(source: str, url: str) -> str:
    return f'<a href="{escape(url)}">{escape(source or urlsplit(url).hostname or url)}</a>'


def _safe_url(url: str) -> bool:
    """Only http(s) links with a host: a `javascript:` or relative href has no place in a message."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def _clip(text: str, limit: int) -> str:
    """Cut plain text (before escaping, so no entity is ever cut) to `limit` characters with "…"."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# -- glue: the store in, deliveries out ------------------------------------------------------


def prepare_digest(
    pipeline: Pipeline,
    subscriber: Subscriber,
    settings: Settings,
    now: datetime,
    since: datetime | None = None,
    *,
    limit: int = 30,
    follow_threshold: float = FOLLOW_THRESHOLD,
    page: bool = False,
) -> tuple[Digest, dict[int, list[tuple[str, str]]]]:
    """Read what `select_digest` needs for this subscriber, select, and return the digest and its links.

    Candidates are stories stored or grown since `since`, else since the subscriber's last
    digest, else over the last day; what this chat already had is left out by the store's record,
    so a `page` over an earlier digest's window (`Digest.since`) shows exactly what it did not.
    What the chat muted (`interest.muted_stories`) is left out like what it already had; a muted source is
    neither counted in a story's outlets nor linked.
    """
    store = pipeline.store
    start = since or subscriber.last_digest_at or now - DEFAULT_LOOKBACK
    candidates = store.stories_updated_since(start, CANDIDATE_LIMIT)
    ids = [story.id for story in candidates]
    delivered = store.delivered(subscriber.chat_id, ids)
    alerted = store.alerted(subscriber.chat_id, ids)
    delivered |= {
        story.id for story in candidates if story.id in alerted and not grew_since_alert(story, alerted[story.id])
    }
    delivered |= muted_stories(store, subscriber, [story for story in candidates if story.id not in delivered])
    fresh = as_counted(store, subscriber, [story for story in candidates if story.id not in delivered])
    scores, texts = follow_matches(pipeline, subscriber.chat_id, [story.id for story in fresh])
    links = {
        story.id: [(source, url) for source, url in store.story_links(story.id) if counted(subscriber, source)]
        for story in fresh
    }
    digest = select_digest(
        fresh,
        delivered,
        subscriber,
        scores,
        {source.name: source.weight for source in settings.sources},
        now,
        limit,
        follow_threshold,
        follow_texts=texts,
        story_sources={story_id: [source for source, _ in pairs] for story_id, pairs in links.items()},
        theme_order=tuple(settings.themes),
    )
    digest = replace(digest, since=start, page=page)
    titles = {source.name: source.title for source in settings.sources if source.title}  # as configured: "量子位"
    return digest, {
        story_id: [(titles.get(name, name), url) for name, url in links[story_id]] for story_id in digest.story_ids
    }


def story_summaries(
    pipeline: Pipeline, stories: Sequence[StorySummary], lang: str, llm: LlmClient | None
) -> dict[int, str]:
    """One-line summaries of the stories shown, in the reader's language (cached per story version)."""
    if not stories:
        return {}
    made = summarize_stories(pipeline.store, stories, lang, pipeline.embedder, llm)
    return {story_id: summary.text for story_id, summary in made.items() if summary.text}


def summarizer(pipeline: Pipeline, llm: LlmClient | None) -> Summarize:
    """`story_summaries` for an answer's hits: the same one-line summaries (and cache) the digest shows."""
    return lambda hits, lang: story_summaries(pipeline, [hit.story for hit in hits], lang, llm)


def mark_sent(store: Store, digest: Digest, sent_at: datetime) -> None:
    """Record the shown stories as delivered to the chat (and when), so no digest repeats them."""
    store.record_delivery(digest.chat_id, digest.story_ids, sent_at)
