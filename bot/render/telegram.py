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
from bot.core.words import LANGS, theme_heading, word
from bot.insight.alerts import parse_quiet
from bot.query.answer import Answer, outlets_label
from bot.query.interest import MAX_MUTE_CHARS, MAX_MUTES, mute_key
from bot.query.search import MoveEvent, StoryHit
from bot.render.moves import move_sentence, richest, same_person
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


def help_text(lang: str) -> str:
    """The commands in the chat's language (its setting, else the Telegram client's)."""
    return word("help", lang)


def chunk_lines(lines: Iterable[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join lines into messages under `limit`, breaking only between lines (a line too long is clipped, tags kept
    whole)."""
    return pack_blocks([[line] for line in lines], limit)


def theme_names(themes: Sequence[str], lang: str) -> str:
    """The chosen themes by their display names in `lang` ("all themes" when none is chosen)."""
    return ", ".join(theme_heading(theme, lang) for theme in themes) if themes else word("all_themes", lang)


def render_themes(themes: Mapping[str, ThemeConfig], chosen: Sequence[str], lang: str) -> str:
    """One short line per theme: its name in `lang` and the word to type (descriptions are for the config)."""
    lines = [t("themes_header", lang)]
    for name in themes:
        mark = "✓" if (not chosen or name in chosen) else "·"
        lines.append(f"{mark} <b>{esc(theme_heading(name, lang))}</b> · {esc(name)}")
    example = next(iter(themes), "llm")
    lines.append(t("themes_footer", lang, slug=example, name=theme_heading(example, lang)))
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
        previews=word("alerts_on" if subscriber.previews else "alerts_off", lang),
    )


def frequency_text(frequency: str, weekly_day: int, lang: str) -> Html:
    if frequency != "weekly":
        return Html(esc(word("daily", lang)))
    return Html(t("weekly", lang, day=WEEKDAYS[lang][weekly_day]))


def setting_value(subscriber: Subscriber, done_key: str, typed: str) -> str:
    """A changed setting as the confirmation shows it, in the subscriber's language ("每周五", not "weekly Friday")."""
    lang = subscriber.lang
    if done_key == "frequency_set":
        return frequency_text(subscriber.frequency, subscriber.weekly_day, lang)
    if done_key == "quiet_set" and not subscriber.quiet:
        return word("alerts_off", lang)
    if done_key == "previews_set":
        return word("alerts_on" if subscriber.previews else "alerts_off", lang)
    return typed


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
        date = f"{cited.published:%Y-%m-%d} · " if cited.published else ""
        page = web.story_url(cited.story_id) if web else None
        more = f" · {link(page, word('web.all_coverage', lang))}" if page else ""
        lines.append(f"[{cited.number}] {date}{link(cited.url, cited.title)}{detail}{more}")
        if cited.summary:
            lines.append(f"    <i>{esc(cited.summary)}</i>")
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
    name = f"{source.title} ({source.name})" if source.title and source.title != source.name else source.name
    return t("source_line", lang, name=name, tag=tag, kind=source.kind, items=state.items_total, health=Html(health))


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
    """/who: one line per person and story (their most complete move), each source once, newest first."""
    if not events:
        return [t("who_none", lang, name=name)]
    lines = [t("who_header", lang, name=name)]
    for group in _one_per_person_and_source(events):
        event, move = group[0], richest([e.move for e in group])
        lines.append(f"{event.when:%Y-%m-%d} · {_move_text(move, lang)}\n    {link(event.url, event.title)}")
    return chunk_lines(lines)


def _one_per_person_and_source(events: Sequence[MoveEvent]) -> list[list[MoveEvent]]:
    """Events grouped when they tell of one person (any spelling) in one source (its link), in order."""
    groups: list[list[MoveEvent]] = []
    for event in events:
        person = event.move.get("person", "")
        group = next(
            (g for g in groups if g[0].url == event.url and same_person(g[0].move.get("person", ""), person)), None
        )
        if group is None:
            groups.append([event])
        else:
            group.append(event)
    return groups


def _move_text(move: Mapping[str, str], lang: str) -> str:
    """The move as a sentence in `lang`, the person in bold; a bare name says a move was reported."""
    return move_sentence(move, lang, esc, _bold) or word("move.unknown", lang, person=_bold(move.get("person", "")))


def _bold(name: str) -> str:
    return f"<b>{esc(name)}</b>"


def render_follows(follows: Sequence[Follow], lang: str) -> str:
    if not follows:
        return t("follows_none", lang)
    return "\n".join([t("follows_header", lang), *(f"#{follow.id} {esc(follow.text)}" for follow in follows)])


def render_mutes(subscriber: Subscriber, sources: Sequence[SourceConfig], lang: str) -> str:
    """/mute alone: the chat's muted words and sources (by their display titles), and how to remove one."""
    if not subscriber.mutes and not subscriber.muted_sources:
        return t("mutes_none", lang)
    titles = {source.name: source.title or source.name for source in sources}
    lines = [t("mutes_header", lang), *(f"• {esc(word)}" for word in subscriber.mutes)]
    lines += [f"• {t('mute_source_line', lang, name=titles.get(name, name))}" for name in subscriber.muted_sources]
    return "\n".join(lines)


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


# -- reading what users type -------------------------------------------------------------------


def parse_themes(words: Sequence[str], known: Sequence[str]) -> tuple[tuple[str, ...], list[str]]:
    """Themes from `/subscribe llm, robotics` or `/subscribe 大模型, Auto-bidding and ads`: a slug or a display
    name in either language, case-insensitive. (chosen, unknown)."""
    by_name = {_theme_key(alias): name for name in known for alias in (name, *_display_names(name))}
    text = " ".join(words).strip()
    parts = [part.strip() for part in re.split(r"[,，、]+", text) if part.strip()]
    chosen: list[str] = []
    unknown: list[str] = []
    for part in parts:  # a display name may hold spaces; otherwise each word is a theme of its own
        if _theme_key(part) in by_name:
            chosen.append(by_name[_theme_key(part)])
            continue
        for single in part.split():
            if _theme_key(single) in by_name:
                chosen.append(by_name[_theme_key(single)])
            else:
                unknown.append(single)
    return tuple(dict.fromkeys(chosen)), unknown


_MUTE_WORD = re.compile(r'"([^"]*)"|“([^”]*)”|「([^」]*)」|(\S+)')
SOURCE_WORDS = ("source", "来源")  # `/mute source NAME`, `/mute 来源 NAME`


def parse_mutes(text: str) -> list[str]:
    """`crypto "stable diffusion" 比特币` → the words and quoted phrases, as muting compares them."""
    found = (next(part for part in match.groups() if part is not None) for match in _MUTE_WORD.finditer(text))
    return list(dict.fromkeys(key for key in map(mute_key, found) if key))


def source_argument(text: str) -> str | None:
    """The NAME of `source NAME` (what `/mute source` and `/unmute source` take), else None."""
    first, _, rest = text.strip().partition(" ")
    return rest.strip() if first.casefold() in SOURCE_WORDS and rest.strip() else None


def with_mutes(current: Sequence[str], words: Sequence[str]) -> tuple[str, ...]:
    """The chat's mutes with `words` added; a SettingError when one is too long or the list would be too long."""
    for word_ in words:
        if len(word_) > MAX_MUTE_CHARS:
            raise SettingError("mute_too_long", word_)
    after = tuple(dict.fromkeys((*current, *words)))
    if len(after) > MAX_MUTES:
        raise SettingError("mute_full", str(MAX_MUTES))
    return after


def find_source(sources: Sequence[SourceConfig], name: str) -> SourceConfig | None:
    """A configured source by its name or its display `title:`, case-insensitively."""
    wanted = mute_key(name)
    return next((source for source in sources if wanted in {mute_key(source.name), mute_key(source.title)}), None)


def _display_names(theme: str) -> tuple[str, ...]:
    return tuple(theme_heading(theme, lang) for lang in LANGS)


def _theme_key(text: str) -> str:
    return " ".join(text.casefold().replace("_", " ").split())


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
    """`time 08:30` | `tz Asia/Shanghai` | `lang zh` | `frequency weekly mon` | `quiet 23:00-07:00` | `previews on`
    → (subscriber changes, done message key, value shown back)."""
    if len(args) >= 2 and args[0].lower() in ("frequency", "freq"):
        return _parse_frequency(args[1:])
    if len(args) != 2:
        raise SettingError("settings_usage")
    what, value = args[0].lower(), args[1]
    if what in ("previews", "preview"):
        if value.lower() not in ("on", "off"):
            raise SettingError("bad_previews", value)
        return {"previews": value.lower() == "on"}, "previews_set", value.lower()
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
