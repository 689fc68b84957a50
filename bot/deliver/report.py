"""The weekly report: what moved this week, for a subscriber who chose `/settings frequency weekly`.

It leads with the trend picture (sent as a photo; its caption carries the same figures as
sparklines, so a reader who never opens the picture still sees the shape), then per theme the
topics that moved — emerging ones first, each with its numbers ("7 stories this week, 1 the week
before"), its most representative story, that story's links and one-line summary — and ends with the
people moves of the week. The same renderer serves `bot digest --weekly` and Telegram.

Selection is `prepare_report` (reads the store: trends, topics, summaries, links); rendering is pure
Telegram HTML under the digest's escaping and size rules. Topics come from `topics.refresh_topics`,
which keeps its state in the store, so a weekly run reclusters only what is new since the last.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core.config import Settings
from bot.core.models import Subscriber
from bot.core.words import word
from bot.deliver.digest import (
    MESSAGE_BUDGET,
    OTHER_THEME,
    PEOPLE_THEME,
    MoveLine,
    collect_moves,
    escape,
    pack_blocks,
    render_move,
    render_story,
    section_heading,
    story_summaries,
    theme_heading,
)
from bot.ingest.pipeline import Pipeline
from bot.insight.topics import Topic, refresh_topics
from bot.insight.trends import Trends, load_trends, sparkline
from bot.query.interest import in_themes
from bot.query.llm import LlmClient
from bot.storage import Store, StorySummary

WEEK = timedelta(days=7)
TREND_WEEKS = 8
TOPICS_PER_THEME = 3  # the most a theme shows: emerging ones first, then the largest
STORIES_WITHOUT_TOPIC = 2  # a theme whose week formed no topic shows its widest stories
MOVE_STORIES = 3  # stories linked under the week's people moves
CAPTION_BUDGET = 1000  # Telegram allows 1024 characters of caption; keep a margin


@dataclass(frozen=True, slots=True)
class ThemeSection:
    """One theme's part of the report: its week in numbers, the topics worth showing, and when no topic
    moved, the week's widest stories of the theme (`stories`) so a section is never just a number."""

    theme: str
    this_week: int
    last_week: int
    topics: list[Topic]
    stories: list[int] = field(default_factory=list)

    @property
    def story_ids(self) -> list[int]:
        return [topic.representative_id for topic in self.topics] + self.stories


@dataclass(frozen=True, slots=True)
class WeeklyReport:
    """What one chat gets: the picture, then the sections; `story_ids` are the stories shown."""

    chat_id: int
    lang: str
    start: datetime
    end: datetime
    trends: Trends
    chart: bytes | None
    sections: list[ThemeSection]
    moves: list[MoveLine]
    stories: dict[int, StorySummary]
    links: dict[int, list[tuple[str, str]]]
    summaries: dict[int, str] = field(default_factory=dict)
    move_stories: list[int] = field(default_factory=list)  # the widest stories behind the moves, with links

    @property
    def story_ids(self) -> list[int]:
        shown = [story_id for section in self.sections for story_id in section.story_ids]
        return shown + [story_id for story_id in self.move_stories if story_id not in shown]


# -- selection ---------------------------------------------------------------------------------


def prepare_report(
    pipeline: Pipeline,
    subscriber: Subscriber,
    settings: Settings,
    now: datetime,
    llm: LlmClient | None = None,
    *,
    chart: bool = True,
) -> WeeklyReport:
    """Read what the report needs for this subscriber's themes and language, and draw the chart."""
    store, embedder = pipeline.store, pipeline.embedder
    trends = subscriber_trends(store, subscriber, settings, now)
    state = refresh_topics(store, embedder.name, embedder.dim, now, settings.topics.window)
    week = store.stories_published_between(now - WEEK, now)
    sections = choose_sections(state.topics, trends, subscriber.themes, week)
    shown = [story_id for section in sections for story_id in section.story_ids]
    every_move = PEOPLE_THEME in subscriber.themes  # a reader of people moves gets all of them, whatever the field
    moving = [story for story in week if story.moves and (every_move or in_themes(story, subscriber.themes))]
    moving.sort(key=lambda story: (-story.outlets * len(story.langs), story.id))
    shown += [story.id for story in moving[:MOVE_STORIES] if story.id not in shown]
    stories = {**store.stories(shown), **{story.id: story for story in moving}}
    links = {story_id: store.story_links(story_id) for story_id in shown}
    summaries = story_summaries(pipeline, [stories[i] for i in shown if i in stories], subscriber.lang, llm)
    picture = chart_png(trends, subscriber.lang) if chart else None
    return WeeklyReport(
        chat_id=subscriber.chat_id,
        lang=subscriber.lang,
        start=now - WEEK,
        end=now,
        trends=trends,
        chart=picture,
        sections=sections,
        moves=collect_moves(moving),
        move_stories=[story.id for story in moving[:MOVE_STORIES]],
        stories=stories,
        links=links,
        summaries=summaries,
    )


def subscriber_trends(store: Store, subscriber: Subscriber, settings: Settings, now: datetime) -> Trends:
    """The last TREND_WEEKS weeks of the subscriber's themes (every theme when they chose none)."""
    return load_trends(store, now, TREND_WEEKS, themes=_theme_rows(subscriber, settings))


def choose_sections(
    topics: Mapping[str, Sequence[Topic]], trends: Trends, chosen: Sequence[str], week: Sequence[StorySummary]
) -> list[ThemeSection]:
    """Per theme (the subscriber's, in the trends' order), its week's numbers and up to TOPICS_PER_THEME
    topics that had stories this week: emerging first, then by this week's count. A theme with stories
    this week but no such topic shows its widest stories of the week instead."""
    sections = []
    for theme in trends.themes:
        if theme == PEOPLE_THEME or (chosen and theme not in chosen):
            continue  # people moves get their own section at the end
        counts = trends.counts.get(theme, [])
        active = [topic for topic in topics.get(theme, ()) if topic.this_week > 0]
        active.sort(key=lambda topic: (not topic.emerging, -topic.this_week, -len(topic.story_ids)))
        this_week, last_week = (counts[-1], counts[-2]) if len(counts) >= 2 else (sum(counts), 0)
        widest = sorted(
            (story for story in week if (story.primary_theme or OTHER_THEME) == theme),
            key=lambda story: (-story.outlets * len(story.langs), -story.items, story.id),
        )
        fallback = [] if active else [story.id for story in widest[:STORIES_WITHOUT_TOPIC]]
        if active or fallback:
            sections.append(ThemeSection(theme, this_week, last_week, active[:TOPICS_PER_THEME], fallback))
    return sections


def _theme_rows(subscriber: Subscriber, settings: Settings) -> list[str]:
    """The chart's rows: the subscriber's themes, or every configured one ('other' last)."""
    return list(subscriber.themes) or sorted(settings.themes, key=lambda theme: theme == OTHER_THEME)


def chart_png(trends: Trends, lang: str) -> bytes:
    from bot.render.chart import render_chart  # matplotlib only when a picture is drawn

    return render_chart(trends, lang).png


# -- rendering (pure) --------------------------------------------------------------------------


def render_caption(trends: Trends, lang: str) -> str:
    """The photo's caption: the title, then one sparkline row per theme (HTML, under Telegram's 1024)."""
    start, end = trends.end - WEEK, trends.end
    lines = [_t("title", lang, start=f"{start:%m-%d}", end=f"{end:%m-%d}")]
    lines.append(f"<i>{_t('chart_note', lang, n=len(trends.buckets))}</i>")
    for theme in trends.themes:
        values = trends.counts[theme]
        row = f"{sparkline(values)} {escape(theme_heading(theme, lang))} {values[-1] if values else 0}"
        if len("\n".join([*lines, row])) > CAPTION_BUDGET:
            break
        lines.append(row)
    return "\n".join(lines)


def render_report(report: WeeklyReport, *, budget: int = MESSAGE_BUDGET) -> list[str]:
    """The report's text messages (after the picture), each at most `budget` UTF-16 units."""
    lang = report.lang
    blocks: list[list[str]] = []
    if not report.chart:
        blocks.append([render_caption(report.trends, lang)])
    for section in report.sections:
        count = _t("theme_count", lang, n=section.this_week, last=section.last_week)
        heading = f"{section_heading(section.theme, lang)} · {count}"
        lines = [_topic_block(topic, report, budget) for topic in section.topics]
        lines += [_story_block(story_id, report, budget) for story_id in section.stories]
        blocks.append(["", heading, *(lines[:1])])
        blocks.extend([line] for line in lines[1:])
    if not any(section.topics for section in report.sections):
        blocks.insert(0 if report.chart else 1, [_t("quiet", lang)])
    if report.moves:
        blocks.append(["", f"<b>{_t('moves', lang)}</b>", render_move(report.moves[0])])
        blocks.extend([render_move(move)] for move in report.moves[1:])
        blocks.extend([line] for story_id in report.move_stories if (line := _story_block(story_id, report, budget)))
    return pack_blocks(blocks, budget)


def _topic_block(topic: Topic, report: WeeklyReport, budget: int) -> str:
    lang = report.lang
    mark = f"{_t('emerging', lang)} · " if topic.emerging else ""
    head = f"▸ {mark}<b>{escape(topic.label)}</b> — {escape(topic.trend(lang))}"
    line = _story_block(topic.representative_id, report, budget)
    return f"{head}\n{line}" if line else head


def _story_block(story_id: int, report: WeeklyReport, budget: int) -> str:
    story = report.stories.get(story_id)
    if story is None:
        return ""
    return render_story(story, report.lang, report.links.get(story_id, ()), budget, report.summaries.get(story_id, ""))


def _t(key: str, lang: str, **values: object) -> str:
    return word(f"report.{key}", lang, **values)
