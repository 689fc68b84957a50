"""The bot's words: what it says (English and Chinese, Telegram HTML) and how it reads what users type.

Pure functions of data, kept apart from `telegram_handlers.py` so handlers stay thin and every reply
and every argument parser can be checked without a bot. One rule makes the HTML safe: every
dynamic value passes through `esc` (directly, via `t`'s slots, or via `link`); only the fixed
templates here contain tags, and only tags Telegram accepts (b, a). A value that is already
HTML is wrapped in `Html` so `t` leaves it alone.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.config import SourceConfig, ThemeConfig, WebConfig
from bot.core.models import Follow, SourceState, Subscriber
from bot.core.words import has_word, word
from bot.insight.alerts import parse_quiet
from bot.query.answer import Answer, outlets_label
from bot.query.search import MoveEvent, StoryHit
from bot.render.split import pack_blocks

MESSAGE_LIMIT = 4000  # Telegram allows 4096 after entity parsing; keep a margin for UTF-16 surrogates
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class Html(str):
    """A fragment that is already safe Telegram HTML (built here from escaped parts)."""


def esc(value: object) -> str:
    """Escape any value for Telegram HTML (text and attribute values alike)."""
    return html.escape(str(value), quote=True)


def link(url: str, title: str) -> Html:
    """`<a href>` for http(s) URLs; anything else is shown as plain, escaped text."""
    if urlsplit(url).scheme not in ("http", "https"):
        return Html(esc(title))
    return Html(f'<a href="{esc(url)}">{esc(title or url)}</a>')


def t(key: str, lang: str, **slots: object) -> str:
    """The `key` phrase of `bot.core.words` in `lang`, with every slot value escaped for HTML."""
    return word(key, lang, **{name: value if isinstance(value, Html) else esc(value) for name, value in slots.items()})


def help_text() -> str:
    """Both languages in one short message: a new user may read either."""
    return word("help", "en") + "\n\n" + word("help", "zh")


def chunk_lines(lines: Iterable[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join lines into messages under `limit`, breaking only between lines (a line too long is clipped, tags kept
    whole)."""
    return pack_blocks([[line] for line in lines], limit)


def theme_names(themes: Sequence[str], lang: str) -> str:
    return ", ".join(themes) if themes else word("all_themes", lang)


def render_themes(themes: Mapping[str, ThemeConfig], chosen: Sequence[str], lang: str) -> str:
    lines = [t("themes_header", lang)]
    for name, theme in themes.items():
        mark = "✓ " if (not chosen or name in chosen) else ""
        lines.append(f"{mark}<b>{esc(name)}</b> — {esc(theme.description)}")
    return "\n".join(lines)


def render_settings(subscriber: Subscriber, lang: str) -> str:
    return t(
        "settings",
        lang,
        language=subscriber.lang,
        frequency=frequency_text(subscriber.frequency, subscriber.weekly_day, lang),
        time=subscriber.digest_time,
        tz=subscriber.timezone,
        themes=theme_names(subscriber.themes, lang),
        state=word("on" if subscriber.subscribed and subscriber.active else "off", lang),
        alerts=word("alerts_on" if subscriber.alerts else "alerts_off", lang),
        quiet=subscriber.quiet or word("none", lang),
    )


def frequency_text(frequency: str, weekly_day: int, lang: str) -> str:
    if frequency != "weekly":
        return word("daily", lang)
    return t("weekly", lang, day=WEEKDAYS[lang][weekly_day])


def render_answer(answer: Answer, hits: Sequence[StoryHit], web: WebConfig | None = None) -> list[str]:
    """The answer text, then each cited story as a link (extractive answers are the list itself) and,
    with `web.base_url`, a link to the story's page with all its coverage; as many messages as it takes."""
    lang = answer.lang
    if not answer.citations:
        return chunk_lines([esc(answer.text)])
    by_story = {hit.story.id: hit for hit in hits}
    if answer.mode == "llm":
        lines = [esc(answer.text), "", esc(word("sources_label", lang))]
    else:
        lines = [esc(answer.text.splitlines()[0])]
    for cited in answer.citations:
        hit = by_story.get(cited.story_id)
        detail = f" — {esc(outlets_label(hit, lang))} · {esc('/'.join(hit.story.langs))}" if hit else ""
        page = web.story_url(cited.story_id) if web else None
        more = f" · {link(page, word('web.all_coverage', lang))}" if page else ""
        lines.append(f"[{cited.number}] {link(cited.url, cited.title)}{detail}{more}")
    return chunk_lines(lines)


def render_sources(
    sources: Sequence[SourceConfig], states: Mapping[str, SourceState], added: set[str], lang: str
) -> list[str]:
    """One line per source with its health; split into as many messages as needed."""
    if not sources:
        return [t("no_sources", lang)]
    lines = [t("sources_header", lang, count=len(sources))]
    for source in sources:
        state = states.get(source.name) or SourceState(name=source.name)
        lines.append(_source_line(source, state, source.name in added, lang))
    return chunk_lines(lines)


def _source_line(source: SourceConfig, state: SourceState, added: bool, lang: str) -> str:
    if not source.enabled:
        health = t("source_disabled", lang)
    elif state.consecutive_errors:
        health = t("source_failing", lang, count=state.consecutive_errors, error=state.last_error[:120])
    elif state.last_success:
        health = f"✓ {_when(state.last_success)}"
    else:
        health = t("source_unfetched", lang)
    tag = Html(t("source_added", lang)) if added else ""
    return t(
        "source_line", lang, name=source.name, tag=tag, kind=source.kind, items=state.items_total, health=Html(health)
    )


@dataclass(frozen=True, slots=True)
class Stats:
    items: int
    stories: int
    subscribers: int
    sources: int
    failing: int


def render_stats(stats: Stats, lang: str) -> str:
    return t(
        "stats",
        lang,
        items=stats.items,
        stories=stats.stories,
        subscribers=stats.subscribers,
        sources=stats.sources,
        failing=stats.failing,
    )


def render_timeline(name: str, events: Sequence[MoveEvent], lang: str) -> list[str]:
    if not events:
        return [t("who_none", lang, name=name)]
    lines = [t("who_header", lang, name=name)]
    lines.extend(
        f"{event.when:%Y-%m-%d} · {_move_text(event.move, lang)}\n    {link(event.url, event.title)}"
        for event in events
    )
    return chunk_lines(lines)


def _move_text(move: Mapping[str, str], lang: str) -> str:
    action = move.get("action", "")
    action = word(f"action.{action}", lang) if has_word(f"action.{action}") else action
    parts = [f"<b>{esc(move.get('person', ''))}</b> {esc(action)} {esc(move.get('to_org') or '')}".rstrip()]
    if move.get("from_org") and move.get("action") != "leave":
        parts.append(f"(← {esc(move['from_org'])})")
    elif move.get("from_org"):
        parts[0] = f"{parts[0]} {esc(move['from_org'])}"
    if move.get("role"):
        parts.append(f"· {esc(move['role'])}")
    return " ".join(parts)


def render_follows(follows: Sequence[Follow], lang: str) -> str:
    if not follows:
        return t("follows_none", lang)
    return "\n".join([t("follows_header", lang), *(f"#{follow.id} {esc(follow.text)}" for follow in follows)])


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


# -- reading what users type -------------------------------------------------------------------


def parse_themes(words: Sequence[str], known: Sequence[str]) -> tuple[tuple[str, ...], list[str]]:
    """Theme names from `/subscribe llm, robotics` (case-insensitive): (chosen, unknown)."""
    by_lower = {name.lower(): name for name in known}
    wanted = [part for word in words for part in re.split(r"[,，、\s]+", word) if part]
    chosen = tuple(dict.fromkeys(by_lower[w.lower()] for w in wanted if w.lower() in by_lower))
    return chosen, [w for w in wanted if w.lower() not in by_lower]


class SettingError(ValueError):
    """A `/settings` argument that cannot be used: `key` names the message, `value` what was typed."""

    def __init__(self, key: str, value: str = "") -> None:
        super().__init__(key)
        self.key, self.value = key, value


def parse_weekday(word: str) -> int | None:
    """ "mon", "Monday", "1" (= Monday … 7 = Sunday), "周一", "星期一" → 0; None when it is not a day."""
    folded = word.strip().lower()
    for index, names in enumerate(_DAY_NAMES):
        if folded in names:
            return index
    return None


def parse_setting(args: Sequence[str]) -> tuple[dict[str, Any], str, str]:
    """`time 08:30` | `tz Asia/Shanghai` | `lang zh` | `frequency weekly mon` | `quiet 23:00-07:00`
    → (subscriber changes, done message key, value shown back)."""
    if len(args) >= 2 and args[0].lower() in ("frequency", "freq"):
        return _parse_frequency(args[1:])
    if len(args) != 2:
        raise SettingError("settings_usage")
    what, value = args[0].lower(), args[1]
    if what == "quiet":
        if value.lower() in ("off", "none", "关闭"):
            return {"quiet": ""}, "quiet_set", "off"
        try:
            start, end = parse_quiet(value) or (None, None)
        except ValueError:
            raise SettingError("bad_quiet", value) from None
        text = f"{start:%H:%M}-{end:%H:%M}"
        return {"quiet": text}, "quiet_set", text
    if what == "time":
        match = _TIME.match(value)
        if not match:
            raise SettingError("bad_time", value)
        clock = f"{int(match[1]):02d}:{match[2]}"
        return {"digest_time": clock}, "time_set", clock
    if what in ("tz", "timezone"):
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingError("bad_tz", value) from None
        return {"timezone": value}, "tz_set", value
    if what in ("lang", "language"):
        if value.lower() not in ("en", "zh"):
            raise SettingError("bad_lang", value)
        return {"lang": value.lower()}, "lang_set", value.lower()
    raise SettingError("settings_usage")


def _parse_frequency(words: Sequence[str]) -> tuple[dict[str, Any], str, str]:
    kind = words[0].lower()
    if kind == "daily" and len(words) == 1:
        return {"frequency": "daily"}, "frequency_set", "daily"
    day = parse_weekday(words[1]) if kind == "weekly" and len(words) == 2 else 0 if kind == "weekly" else None
    if day is None or len(words) > 2:
        raise SettingError("bad_frequency", " ".join(words))
    return {"frequency": "weekly", "weekly_day": day}, "frequency_set", f"weekly {WEEKDAYS['en'][day]}"


WEEKDAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "zh": ("一", "二", "三", "四", "五", "六", "日"),
}
_DAY_NAMES = tuple(
    {en.lower(), en[:3].lower(), str(index + 1), f"周{zh}", f"星期{zh}"} | ({"周天", "星期天"} if index == 6 else set())
    for index, (en, zh) in enumerate(zip(WEEKDAYS["en"], WEEKDAYS["zh"], strict=True))
)
