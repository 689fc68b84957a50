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

from bot.core.config import SourceConfig, ThemeConfig
from bot.core.models import Follow, SourceState, Subscriber
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


TEXTS: dict[str, dict[str, str]] = {
    "error": {
        "en": "Sorry, something went wrong on my side. Please try again later.",
        "zh": "抱歉，处理时出了点问题，请稍后再试。",
    },
    "unknown_command": {
        "en": "I don't know the command {command}. Send /help to see what I can do.",
        "zh": "我不认识命令 {command}。发送 /help 查看可用命令。",
    },
    "unknown_themes": {
        "en": "Unknown theme: {names}. Themes: {themes}",
        "zh": "没有这个主题：{names}。可选主题：{themes}",
    },
    "subscribed": {
        "en": "Subscribed to {themes}. Your digest comes daily at {time} ({tz}). Change it with /settings.",
        "zh": "已订阅：{themes}。每天 {time}（{tz}）推送摘要，可用 /settings 修改。",
    },
    "all_themes": {"en": "all themes", "zh": "全部主题"},
    "unsubscribed": {
        "en": "Unsubscribed: no more daily digests. /subscribe brings them back.",
        "zh": "已退订，不再推送每日摘要。发送 /subscribe 可重新订阅。",
    },
    "themes_header": {"en": "<b>Themes</b> (✓ = in your digest)", "zh": "<b>主题</b>（✓ = 已订阅）"},
    "settings": {
        "en": "<b>Your settings</b>\nlanguage: {language}\ndigest: {frequency} at {time}\ntime zone: {tz}\n"
        "themes: {themes}\nsubscription: {state}\nbreaking alerts: {alerts}\nquiet hours: {quiet}\n\n"
        "Change: /settings time 08:30 · /settings tz Asia/Shanghai · /settings lang zh · "
        "/settings frequency weekly mon · /settings quiet 23:00-07:00 · /alerts on",
        "zh": "<b>当前设置</b>\n语言：{language}\n推送：{frequency} {time}\n时区：{tz}\n主题：{themes}\n订阅：{state}\n"
        "突发提醒：{alerts}\n免打扰：{quiet}\n\n"
        "修改：/settings time 08:30 · /settings tz Asia/Shanghai · /settings lang en · "
        "/settings frequency weekly mon · /settings quiet 23:00-07:00 · /alerts on",
    },
    "daily": {"en": "daily", "zh": "每天"},
    "weekly": {"en": "weekly on {day}", "zh": "每周{day}"},
    "alerts_on": {"en": "on", "zh": "开启"},
    "alerts_off": {"en": "off", "zh": "关闭"},
    "none": {"en": "none", "zh": "无"},
    "on": {"en": "on", "zh": "开启"},
    "off": {"en": "off (/subscribe)", "zh": "关闭（/subscribe）"},
    "settings_usage": {
        "en": "Usage: /settings time HH:MM · /settings tz Area/City · /settings lang en|zh · "
        "/settings frequency daily|weekly [day] · /settings quiet HH:MM-HH:MM|off",
        "zh": "用法：/settings time HH:MM · /settings tz 地区/城市 · /settings lang en|zh · "
        "/settings frequency daily|weekly [星期] · /settings quiet HH:MM-HH:MM|off",
    },
    "bad_frequency": {
        "en": "{value} is not a frequency: use daily, or weekly with a day, e.g. weekly mon.",
        "zh": "{value} 不是有效频率：请用 daily，或 weekly 加星期，例如 weekly mon。",
    },
    "bad_quiet": {
        "en": "{value} is not a quiet-hours range: use HH:MM-HH:MM, e.g. 23:00-07:00, or off.",
        "zh": "{value} 不是有效的免打扰时段：请用 HH:MM-HH:MM，例如 23:00-07:00，或 off。",
    },
    "frequency_set": {"en": "Digest frequency: {value}.", "zh": "推送频率：{value}。"},
    "quiet_set": {"en": "Quiet hours: {value}.", "zh": "免打扰时段：{value}。"},
    "alerts_usage": {
        "en": "Usage: /alerts on|off — breaking stories pushed at once (outside your quiet hours). Now: {state}.",
        "zh": "用法：/alerts on|off —— 重大新闻即时推送（免打扰时段除外）。当前：{state}。",
    },
    "alerts_set": {
        "en": "Breaking alerts {state}.",
        "zh": "突发提醒已{state}。",
    },
    "bad_time": {
        "en": "{value} is not a time of day; use 24-hour HH:MM, e.g. 08:30.",
        "zh": "{value} 不是有效时间，请用 24 小时制 HH:MM，例如 08:30。",
    },
    "bad_tz": {
        "en": "Unknown time zone {value}. Use an IANA name such as Asia/Shanghai, Europe/Berlin or UTC.",
        "zh": "未知时区 {value}。请用 IANA 时区名，例如 Asia/Shanghai、Europe/Berlin 或 UTC。",
    },
    "bad_lang": {"en": "Language must be en or zh.", "zh": "语言只能是 en 或 zh。"},
    "time_set": {"en": "Digest time set to {value}.", "zh": "推送时间已设为 {value}。"},
    "tz_set": {"en": "Time zone set to {value}.", "zh": "时区已设为 {value}。"},
    "lang_set": {"en": "I'll reply in English.", "zh": "之后我会用中文回复。"},
    "nothing_new": {
        "en": "Nothing new since your last digest.",
        "zh": "自上次摘要以来没有新内容。",
    },
    "ask_usage": {
        "en": "Ask me about AI news, e.g. /ask who left OpenAI? — or just send the question.",
        "zh": "可以问我 AI 新闻，例如 /ask 谁离开了 OpenAI？——也可以直接发送问题。",
    },
    "sources_header": {"en": "<b>Sources</b> ({count})", "zh": "<b>来源</b>（{count} 个）"},
    "no_sources": {"en": "No sources are configured.", "zh": "还没有配置任何来源。"},
    "source_line": {
        "en": "<b>{name}</b>{tag} · {kind} · {items} items · {health}",
        "zh": "<b>{name}</b>{tag} · {kind} · {items} 条 · {health}",
    },
    "source_added": {"en": " (added)", "zh": "（已添加）"},
    "source_disabled": {"en": "⏸ disabled", "zh": "⏸ 已停用"},
    "source_failing": {"en": "⚠ {count} errors: {error}", "zh": "⚠ 连续出错 {count} 次：{error}"},
    "source_unfetched": {"en": "… not fetched yet", "zh": "… 尚未抓取"},
    "admins_only": {
        "en": "Sorry, only the bot's admins can do that.",
        "zh": "抱歉，只有管理员可以执行这个操作。",
    },
    "addsource_usage": {"en": "Usage: /addsource URL [name]", "zh": "用法：/addsource URL [名称]"},
    "addsource_refused": {"en": "Cannot add that source: {reason}", "zh": "无法添加该来源：{reason}"},
    "addsource_done": {
        "en": "Added {name}: {entries} entries in the feed, {new} new items stored.",
        "zh": "已添加 {name}：订阅源中有 {entries} 条，新存入 {new} 条。",
    },
    "removesource_usage": {"en": "Usage: /removesource NAME", "zh": "用法：/removesource 名称"},
    "removesource_done": {"en": "Removed {name}.", "zh": "已移除 {name}。"},
    "removesource_config": {
        "en": "{name} is defined in the config file; remove it there.",
        "zh": "{name} 定义在配置文件中，请在配置文件里删除。",
    },
    "removesource_unknown": {"en": "No source named {name}.", "zh": "没有名为 {name} 的来源。"},
    "stats": {
        "en": "<b>Stats</b>\nitems: {items}\nstories: {stories}\nsubscribers: {subscribers}\n"
        "sources: {sources} ({failing} failing)",
        "zh": "<b>统计</b>\n条目：{items}\n报道：{stories}\n订阅者：{subscribers}\n来源：{sources}（{failing} 个异常）",
    },
    "who_usage": {"en": "Usage: /who NAME (a person or a company)", "zh": "用法：/who 名字（人名或公司名）"},
    "who_none": {"en": "No people moves found for {name}.", "zh": "没有找到与 {name} 相关的人事变动。"},
    "who_header": {"en": "<b>People moves: {name}</b>", "zh": "<b>人事变动：{name}</b>"},
    "follows_none": {
        "en": "You follow no topics. /follow WORDS adds one: matching stories join your digest.",
        "zh": "还没有关注的话题。/follow 关键词 可添加，相关报道会加入你的摘要。",
    },
    "follows_header": {"en": "<b>Topics you follow</b> (/unfollow ID)", "zh": "<b>关注的话题</b>（/unfollow 编号）"},
    "followed": {"en": "Following #{id}: {text}", "zh": "已关注 #{id}：{text}"},
    "unfollow_usage": {"en": "Usage: /unfollow ID (see /follow)", "zh": "用法：/unfollow 编号（见 /follow）"},
    "unfollowed": {"en": "Stopped following #{id}.", "zh": "已取消关注 #{id}。"},
    "unfollow_unknown": {"en": "You follow no topic #{id}.", "zh": "没有编号为 #{id} 的关注。"},
    "sources_label": {"en": "Sources:", "zh": "来源："},
}

HELP = {
    "en": (
        "<b>AI news monitor</b> — English and Chinese sources, one digest a day.\n"
        "/subscribe [themes] — daily digest (/themes lists them)\n"
        "/digest — what's new now\n"
        "/ask QUESTION — or just send a question\n"
        "/who NAME — people moves\n"
        "/follow WORDS — follow a topic · /unfollow ID\n"
        "/alerts on|off — breaking stories at once · /trends — the weekly picture\n"
        "/settings — time, time zone, language, daily or weekly, quiet hours\n"
        "/sources — what I watch · /unsubscribe — stop"
    ),
    "zh": (
        "<b>AI 新闻监控</b>——中英文来源，每天一份摘要。\n"
        "/subscribe [主题] 订阅每日摘要 · /digest 立即查看 · /ask 提问（或直接发送问题）\n"
        "/who 名字 人事变动 · /follow 关键词 关注话题 · /alerts on|off 突发提醒 · /trends 趋势图\n"
        "/settings 时间、时区、语言、每日或每周、免打扰 · /sources 来源"
    ),
}
ACTIONS = {
    "join": {"en": "joined", "zh": "加入"},
    "leave": {"en": "left", "zh": "离开"},
    "found": {"en": "founded", "zh": "创立"},
    "return": {"en": "returned to", "zh": "回归"},
    "appoint": {"en": "appointed at", "zh": "出任"},
}


def t(key: str, lang: str, **slots: object) -> str:
    """The `key` template in `lang` (English when missing) with every slot value escaped."""
    template = TEXTS[key].get(lang) or TEXTS[key]["en"]
    return template.format(**{name: value if isinstance(value, Html) else esc(value) for name, value in slots.items()})


def help_text() -> str:
    """Both languages in one short message: a new user may read either."""
    return HELP["en"] + "\n\n" + HELP["zh"]


def chunk_lines(lines: Iterable[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join lines into messages under `limit`, breaking only between lines (a line too long is clipped, tags kept
    whole)."""
    return pack_blocks([[line] for line in lines], limit)


def theme_names(themes: Sequence[str], lang: str) -> str:
    return ", ".join(themes) if themes else TEXTS["all_themes"][lang]


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
        state=TEXTS["on" if subscriber.subscribed and subscriber.active else "off"][lang],
        alerts=TEXTS["alerts_on" if subscriber.alerts else "alerts_off"][lang],
        quiet=subscriber.quiet or TEXTS["none"][lang],
    )


def frequency_text(frequency: str, weekly_day: int, lang: str) -> str:
    if frequency != "weekly":
        return TEXTS["daily"][lang]
    return t("weekly", lang, day=WEEKDAYS[lang][weekly_day])


def render_answer(answer: Answer, hits: Sequence[StoryHit]) -> list[str]:
    """The answer text, then each cited story as a link (extractive answers are the list itself);
    as many messages as it takes."""
    lang = answer.lang
    if not answer.citations:
        return chunk_lines([esc(answer.text)])
    by_story = {hit.story.id: hit for hit in hits}
    if answer.mode == "llm":
        lines = [esc(answer.text), "", esc(TEXTS["sources_label"]["en" if lang != "zh" else "zh"])]
    else:
        lines = [esc(answer.text.splitlines()[0])]
    for cited in answer.citations:
        hit = by_story.get(cited.story_id)
        detail = f" — {esc(outlets_label(hit, lang))} · {esc('/'.join(hit.story.langs))}" if hit else ""
        lines.append(f"[{cited.number}] {link(cited.url, cited.title)}{detail}")
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
    action = ACTIONS.get(move.get("action", ""), {}).get(lang, move.get("action", ""))
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
