"""`bot topics` (the topics inside each theme over the recent window, emerging first) and `bot themes suggest`.

Both recompute the topics in full from the store and change nothing in it: they answer for any `--now`,
including a past one, which the daily incremental state (`bot.insight.topics.refresh_topics`) cannot.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta
from typing import Any

from bot.app import App
from bot.cli.render import clip, counted, parse_now, require_data, when
from bot.core.config import Paths, Settings
from bot.core.errors import UsageError
from bot.ingest.embed import make_embedder
from bot.insight.topics import (
    EMERGING_MIN,
    EMERGING_RATIO,
    FALLBACK_THEME,
    SUGGEST_MIN_STORIES,
    SUGGEST_TIGHTNESS,
    Topic,
    TopicState,
    load_topic_inputs,
    recompute_topics,
    suggest_themes,
)
from bot.storage import Store, StorySummary

EMERGING_RULE = f"at least {EMERGING_MIN} stories this week and {EMERGING_RATIO}× (last week + 1)"


def cmd_topics(args: argparse.Namespace) -> int:
    """Print every theme's topics (or one theme's) with their weekly numbers; emerging ones first."""
    app = App.from_cli(args.config, args.data_dir)
    settings = app.settings
    if args.theme and args.theme not in settings.themes and args.theme != FALLBACK_THEME:
        raise UsageError(f"unknown theme {args.theme!r}; themes: {', '.join(settings.themes) or 'none configured'}")
    now = parse_now(args.now)
    state, stories = _compute(settings, app.paths, now)
    themes = [args.theme] if args.theme else sorted(set(state.topics) | set(state.unassigned))
    if args.json:
        print(json.dumps(_topics_json(state, stories, themes), ensure_ascii=False))
    else:
        _print_topics(state, stories, themes)
    return 0


def cmd_themes_suggest(args: argparse.Namespace) -> int:
    """Print ready-to-paste `themes:` entries for the tight, large topics of `other`, or say why there are none."""
    app = App.from_cli(args.config, args.data_dir)
    settings, now = app.settings, parse_now(args.now)
    state, stories = _compute(settings, app.paths, now)
    topics = state.topics.get(FALLBACK_THEME, [])
    text = suggest_themes(topics, stories, existing=settings.themes)
    if text:
        print(text, end="")
        return 0
    in_other = sum(len(t.story_ids) for t in topics) + len(state.unassigned.get(FALLBACK_THEME, ()))
    print(
        f"No theme to suggest: in the {_days(state.window)} to {when(now)}, `{FALLBACK_THEME}` has"
        f" {_stories(in_other)} and {counted(len(topics), 'topic')}, and none has at least"
        f" {SUGGEST_MIN_STORIES} stories with a tightness of {SUGGEST_TIGHTNESS:.2f} or more."
    )
    return 0


def _compute(settings: Settings, paths: Paths, now: datetime) -> tuple[TopicState, dict[int, StorySummary]]:
    require_data(paths)
    embedder = make_embedder(settings.embedding)  # only its name and width: vectors are read, not computed
    store = Store.open(paths.db)
    try:
        stories, vectors = load_topic_inputs(store, embedder.name, embedder.dim, now, settings.topics.window)
    finally:
        store.close()
    return recompute_topics(stories, vectors, now, settings.topics.window), {story.id: story for story in stories}


def _print_topics(state: TopicState, stories: dict[int, StorySummary], themes: list[str]) -> None:
    topics = [topic for theme in themes for topic in state.topics.get(theme, [])]
    rising = [topic for topic in topics if topic.emerging]
    print(
        f"Topics in the {_days(state.window)} to {when(state.computed_at)}: {_stories(len(stories))}"
        f" in the window, {counted(len(topics), 'topic')}, {len(rising)} emerging ({EMERGING_RULE})."
    )
    if rising:
        print("\nEmerging")
        for topic in rising:
            print(f"  ▲ [{topic.theme}] {topic.label} — {topic.trend('en')} ({topic.trend('zh')})")
    for theme in themes:
        _print_theme(theme, state, stories)


def _print_theme(theme: str, state: TopicState, stories: dict[int, StorySummary]) -> None:
    topics = state.topics.get(theme, [])
    total = sum(len(t.story_ids) for t in topics) + len(state.unassigned.get(theme, ()))
    print(f"\n{theme} — {_stories(total)}, {counted(len(topics), 'topic')}")
    if not topics:
        print("  (no topic: no 3 stories close enough to one another)")
    for topic in topics:
        mark = "▲" if topic.emerging else "•"
        print(f"  {mark} {topic.label or '(no label)'} — {_stories(len(topic.story_ids))}; {topic.trend('en')}")
        story = stories.get(topic.representative_id)
        if story is not None:
            print(f"      e.g. {clip(story.title_in('en'), 100)}")


def _topics_json(state: TopicState, stories: dict[int, StorySummary], themes: list[str]) -> dict[str, Any]:
    return {
        "now": state.computed_at.isoformat(),
        "window_days": state.window / timedelta(days=1),
        "stories": len(stories),
        "emerging_rule": EMERGING_RULE,
        "themes": {
            theme: {
                "stories": sum(len(t.story_ids) for t in state.topics.get(theme, []))
                + len(state.unassigned.get(theme, ())),
                "unassigned": len(state.unassigned.get(theme, ())),
                "topics": [_topic_json(topic, stories) for topic in state.topics.get(theme, [])],
            }
            for theme in themes
        },
        "emerging": [
            _topic_json(topic, stories) for theme in themes for topic in state.topics.get(theme, []) if topic.emerging
        ],
    }


def _topic_json(topic: Topic, stories: dict[int, StorySummary]) -> dict[str, Any]:
    story = stories.get(topic.representative_id)
    return {
        "theme": topic.theme,
        "label": topic.label,
        "label_terms": list(topic.label_terms),
        "size": len(topic.story_ids),
        "story_ids": list(topic.story_ids),
        "this_week": topic.this_week,
        "last_week": topic.last_week,
        "emerging": topic.emerging,
        "trend": {"en": topic.trend("en"), "zh": topic.trend("zh")},
        "tightness": topic.tightness,
        "representative": {
            "id": topic.representative_id,
            "title": story.title if story else "",
            "title_en": story.title_en if story else "",
            "title_zh": story.title_zh if story else "",
        },
    }


def _stories(count: int) -> str:
    return f"{count} {'story' if count == 1 else 'stories'}"


def _days(window: timedelta) -> str:
    return counted(round(window / timedelta(days=1)), "day")
