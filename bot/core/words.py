"""Every word the bot shows a person, one table per language (`EN`, `ZH`), looked up by `word`.

One place, so a Chinese reader never meets an English phrase that a module forgot to translate
(a test checks that both tables have the same keys and the same slots), and so the Telegram bot,
the CLI and the web pages say the same thing in the same words. Keys are grouped by prefix: none
for the chat's replies, `digest.`, `report.`, `trends.`, `answer.`, `action.` (people moves),
`theme.` (theme headings). Templates use `str.format` slots; callers escape values for HTML.
"""

from __future__ import annotations

LANGS = ("en", "zh")

EN: dict[str, str] = {
    "error": "Sorry, something went wrong on my side. Please try again later.",
    "unknown_command": "I don't know the command {command}. Send /help to see what I can do.",
    "unknown_themes": "Unknown theme: {names}. Themes: {themes}",
    "subscribed": "Subscribed to {themes}. Your digest comes daily at {time} ({tz}). Change it with /settings.",
    "all_themes": "all themes",
    "unsubscribed": "Unsubscribed: no more daily digests. /subscribe brings them back.",
    "themes_header": "<b>Themes</b> (✓ = in your digest)",
    "settings": (
        "<b>Your settings</b>\n"
        "language: {language}\n"
        "digest: {frequency} at {time}\n"
        "time zone: {tz}\n"
        "themes: {themes}\n"
        "subscription: {state}\n"
        "breaking alerts: {alerts}\n"
        "quiet hours: {quiet}\n"
        "\n"
        "Change: /settings time 08:30 · "
        "/settings tz Asia/Shanghai · "
        "/settings lang zh · /settings frequency weekly mon · "
        "/settings quiet 23:00-07:00 · /alerts on"
    ),
    "daily": "daily",
    "weekly": "weekly on {day}",
    "alerts_on": "on",
    "alerts_off": "off",
    "none": "none",
    "on": "on",
    "off": "off (/subscribe)",
    "settings_usage": (
        "Usage: /settings time HH:MM · "
        "/settings tz Area/City · "
        "/settings lang en|zh · "
        "/settings frequency daily|weekly [day] · /settings quiet HH:MM-HH:MM|off"
    ),
    "bad_frequency": "{value} is not a frequency: use daily, or weekly with a day, e.g. weekly mon.",
    "bad_quiet": "{value} is not a quiet-hours range: use HH:MM-HH:MM, e.g. 23:00-07:00, or off.",
    "frequency_set": "Digest frequency: {value}.",
    "quiet_set": "Quiet hours: {value}.",
    "alerts_usage": "Usage: /alerts on|off — breaking stories pushed at once (outside your quiet hours). Now: {state}.",
    "alerts_set": "Breaking alerts {state}.",
    "bad_time": "{value} is not a time of day; use 24-hour HH:MM, e.g. 08:30.",
    "bad_tz": "Unknown time zone {value}. Use an IANA name such as Asia/Shanghai, Europe/Berlin or UTC.",
    "bad_lang": "Language must be en or zh.",
    "time_set": "Digest time set to {value}.",
    "tz_set": "Time zone set to {value}.",
    "lang_set": "I'll reply in English.",
    "nothing_new": "Nothing new since your last digest.",
    "ask_usage": "Ask me about AI news, e.g. /ask who left OpenAI? — or just send the question.",
    "sources_header": "<b>Sources</b> ({count})",
    "no_sources": "No sources are configured.",
    "source_line": "<b>{name}</b>{tag} · {kind} · {items} items · {health}",
    "source_added": " (added)",
    "source_disabled": "⏸ disabled",
    "source_failing": "⚠ {count} errors: {error}",
    "source_unfetched": "… not fetched yet",
    "admins_only": "Sorry, only the bot's admins can do that.",
    "addsource_usage": "Usage: /addsource URL [name]",
    "addsource_refused": "Cannot add that source: {reason}",
    "addsource_done": "Added {name}: {entries} entries in the feed, {new} new items stored.",
    "removesource_usage": "Usage: /removesource NAME",
    "removesource_done": "Removed {name}.",
    "removesource_config": "{name} is defined in the config file; remove it there.",
    "removesource_unknown": "No source named {name}.",
    "stats": (
        "<b>Stats</b>\n"
        "items: {items}\n"
        "stories: {stories}\n"
        "subscribers: {subscribers}\n"
        "sources: {sources} ({failing} failing)"
    ),
    "who_usage": "Usage: /who NAME (a person or a company)",
    "who_none": "No people moves found for {name}.",
    "who_header": "<b>People moves: {name}</b>",
    "follows_none": "You follow no topics. /follow WORDS adds one: matching stories join your digest.",
    "follows_header": "<b>Topics you follow</b> (/unfollow ID)",
    "followed": "Following #{id}: {text}",
    "unfollow_usage": "Usage: /unfollow ID (see /follow)",
    "unfollowed": "Stopped following #{id}.",
    "unfollow_unknown": "You follow no topic #{id}.",
    "sources_label": "Sources:",
    "help": (
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
    "action.join": "joined",
    "action.leave": "left",
    "action.found": "founded",
    "action.return": "returned to",
    "action.appoint": "appointed at",
    "digest.title": "📰 <b>AI news digest</b> · {n} new",
    "digest.outlets": "{n} outlets",
    "digest.outlet": "1 outlet",
    "digest.follow": "Following: {text}",
    "digest.followed": "your topics",
    "digest.overflow": "Also new: {n} more",
    "digest.empty": "Nothing new since your last digest.",
    "digest.breaking": "🚨 <b>Breaking</b>",
    "digest.breaking_follow": "🔔 <b>On your topic</b>: {text}",
    "report.title": "📈 <b>Weekly AI report</b> · {start} – {end}",
    "report.theme_count": "{n} this week ({last} the week before)",
    "report.emerging": "🔥 emerging",
    "report.moves": "People moves this week",
    "report.quiet": "A quiet week: no topic stood out.",
    "report.chart_note": "Stories per theme, last {n} weeks",
    "trends.title_week": "Stories per theme per week",
    "trends.title_day": "Stories per theme per day",
    "trends.weighted": ", weighted by outlets × languages",
    "trends.window_week": "{n} weeks to {end} UTC",
    "trends.window_day": "{n} days to {end} UTC",
    "trends.starts": "columns: the date each {unit} starts",
    "trends.shown": "the latest {shown} of {n} columns shown",
    "trends.theme": "theme",
    "trends.all": "all",
    "trends.total": "total",
    "trends.trend": "trend",
    "trends.change": "change",
    "trends.new": "new",
    "trends.week": "week",
    "trends.day": "day",
    "trends.empty": "No stories in this period.",
    "trends.axis_week": "Week starting (UTC)",
    "trends.axis_day": "Day starting (UTC)",
    "trends.axis_count": "Stories",
    "trends.axis_breadth": "Outlets × languages, summed over stories",
    "topic.trend": "{n} stories this week, {last} the week before",
    "topic.trend_one": "{n} story this week, {last} the week before",
    "theme.llm": "Language models",
    "theme.multimodal": "Multimodal",
    "theme.world_models": "World models",
    "theme.bidding": "Auto-bidding and ads",
    "theme.people_moves": "People moves",
    "theme.other": "Other",
    "answer.not_found": "Not found in the monitored sources.",
    "answer.nothing_found": "Nothing found in the monitored sources.",
    "answer.top_stories": "Top stories in the monitored sources:",
    # -- web --
    "web.site_title": "AI news, each story once",
    "web.tagline": "English and Chinese outlets, deduplicated into stories",
    "web.home": "Home",
    "web.feeds": "Feeds",
    "web.search": "Search",
    "web.search_placeholder": "Ask or search, in English or Chinese",
    "web.other_lang": "中文",
    "web.latest": "Latest stories",
    "web.empty": "No stories yet.",
    "web.more_in": "More in {name}",
    "web.summary": "Summary",
    "web.coverage": "Coverage: {n} items",
    "web.timeline": "Timeline of coverage",
    "web.moves": "People moves",
    "web.related": "Related stories",
    "web.themes": "Themes",
    "web.first_reported": "first reported {date}",
    "web.all_coverage": "all coverage",
    "web.answer": "Answer",
    "web.results": "Stories found",
    "web.too_long": "The question is too long: at most {n} characters.",
    "web.rate_limited": "Too many searches from your address; please wait a minute.",
    "web.not_found": "Not found",
    "web.not_found_text": "There is no such page or story here.",
    "web.error": "Something went wrong",
    "web.error_text": "The page could not be shown. Please try again later.",
    "web.theme_title": "Theme: {name}",
    "web.chart_alt": "Stories per week in {name}",
    "web.feed_links": "Follow this theme: Atom · JSON Feed",
    "web.feeds_text": "Follow a theme in any feed reader: one entry per story, however many outlets carry it.",
    "web.all_themes": "All themes",
    "web.person_title": "People moves: {name}",
    "web.person_none": "No people moves found for {name}.",
    "web.person_search": "Person",
    "web.feed_title": "{name} · AI news, each story once",
    "web.feed_entry": "Covered by {outlets} in {langs}.",
    "web.source": "source",
}

ZH: dict[str, str] = {
    "error": "抱歉，处理时出了点问题，请稍后再试。",
    "unknown_command": "我不认识命令 {command}。发送 /help 查看可用命令。",
    "unknown_themes": "没有这个主题：{names}。可选主题：{themes}",
    "subscribed": "已订阅：{themes}。每天 {time}（{tz}）推送摘要，可用 /settings 修改。",
    "all_themes": "全部主题",
    "unsubscribed": "已退订，不再推送每日摘要。发送 /subscribe 可重新订阅。",
    "themes_header": "<b>主题</b>（✓ = 已订阅）",
    "settings": (
        "<b>当前设置</b>\n"
        "语言：{language}\n"
        "推送：{frequency} {time}\n"
        "时区：{tz}\n"
        "主题：{themes}\n"
        "订阅：{state}\n"
        "突发提醒：{alerts}\n"
        "免打扰：{quiet}\n"
        "\n"
        "修改：/settings time 08:30 · "
        "/settings tz Asia/Shanghai · "
        "/settings lang en · /settings frequency weekly mon · "
        "/settings quiet 23:00-07:00 · /alerts on"
    ),
    "daily": "每天",
    "weekly": "每周{day}",
    "alerts_on": "开启",
    "alerts_off": "关闭",
    "none": "无",
    "on": "开启",
    "off": "关闭（/subscribe）",
    "settings_usage": (
        "用法：/settings time HH:MM · "
        "/settings tz 地区/城市 · /settings lang en|zh · "
        "/settings frequency daily|weekly [星期] · /settings quiet HH:MM-HH:MM|off"
    ),
    "bad_frequency": "{value} 不是有效频率：请用 daily，或 weekly 加星期，例如 weekly mon。",
    "bad_quiet": "{value} 不是有效的免打扰时段：请用 HH:MM-HH:MM，例如 23:00-07:00，或 off。",
    "frequency_set": "推送频率：{value}。",
    "quiet_set": "免打扰时段：{value}。",
    "alerts_usage": "用法：/alerts on|off —— 重大新闻即时推送（免打扰时段除外）。当前：{state}。",
    "alerts_set": "突发提醒已{state}。",
    "bad_time": "{value} 不是有效时间，请用 24 小时制 HH:MM，例如 08:30。",
    "bad_tz": "未知时区 {value}。请用 IANA 时区名，例如 Asia/Shanghai、Europe/Berlin 或 UTC。",
    "bad_lang": "语言只能是 en 或 zh。",
    "time_set": "推送时间已设为 {value}。",
    "tz_set": "时区已设为 {value}。",
    "lang_set": "之后我会用中文回复。",
    "nothing_new": "自上次摘要以来没有新内容。",
    "ask_usage": "可以问我 AI 新闻，例如 /ask 谁离开了 OpenAI？——也可以直接发送问题。",
    "sources_header": "<b>来源</b>（{count} 个）",
    "no_sources": "还没有配置任何来源。",
    "source_line": "<b>{name}</b>{tag} · {kind} · {items} 条 · {health}",
    "source_added": "（已添加）",
    "source_disabled": "⏸ 已停用",
    "source_failing": "⚠ 连续出错 {count} 次：{error}",
    "source_unfetched": "… 尚未抓取",
    "admins_only": "抱歉，只有管理员可以执行这个操作。",
    "addsource_usage": "用法：/addsource URL [名称]",
    "addsource_refused": "无法添加该来源：{reason}",
    "addsource_done": "已添加 {name}：订阅源中有 {entries} 条，新存入 {new} 条。",
    "removesource_usage": "用法：/removesource 名称",
    "removesource_done": "已移除 {name}。",
    "removesource_config": "{name} 定义在配置文件中，请在配置文件里删除。",
    "removesource_unknown": "没有名为 {name} 的来源。",
    "stats": (
        "<b>统计</b>\n条目：{items}\n报道：{stories}\n订阅者：{subscribers}\n来源：{sources}（{failing} 个异常）"
    ),
    "who_usage": "用法：/who 名字（人名或公司名）",
    "who_none": "没有找到与 {name} 相关的人事变动。",
    "who_header": "<b>人事变动：{name}</b>",
    "follows_none": "还没有关注的话题。/follow 关键词 可添加，相关报道会加入你的摘要。",
    "follows_header": "<b>关注的话题</b>（/unfollow 编号）",
    "followed": "已关注 #{id}：{text}",
    "unfollow_usage": "用法：/unfollow 编号（见 /follow）",
    "unfollowed": "已取消关注 #{id}。",
    "unfollow_unknown": "没有编号为 #{id} 的关注。",
    "sources_label": "来源：",
    "help": (
        "<b>AI 新闻监控</b>——中英文来源，每天一份摘要。\n"
        "/subscribe [主题] 订阅每日摘要 · /digest 立即查看 · /ask 提问（或直接发送问题）\n"
        "/who 名字 人事变动 · /follow 关键词 关注话题 · /alerts on|off 突发提醒 · /trends 趋势图\n"
        "/settings 时间、时区、语言、每日或每周、免打扰 · /sources 来源"
    ),
    "action.join": "加入",
    "action.leave": "离开",
    "action.found": "创立",
    "action.return": "回归",
    "action.appoint": "出任",
    "digest.title": "📰 <b>AI 新闻摘要</b> · {n} 条新动态",
    "digest.outlets": "{n} 家媒体",
    "digest.outlet": "1 家媒体",
    "digest.follow": "关注：{text}",
    "digest.followed": "你的话题",
    "digest.overflow": "另有 {n} 条新动态",
    "digest.empty": "自上次摘要以来暂无新动态。",
    "digest.breaking": "🚨 <b>突发</b>",
    "digest.breaking_follow": "🔔 <b>你关注的话题</b>：{text}",
    "report.title": "📈 <b>AI 周报</b> · {start} – {end}",
    "report.theme_count": "本周 {n} 条（上周 {last} 条）",
    "report.emerging": "🔥 升温",
    "report.moves": "本周人事变动",
    "report.quiet": "本周较平静，没有明显升温的话题。",
    "report.chart_note": "近 {n} 周各主题报道数",
    "trends.title_week": "每周各主题报道数",
    "trends.title_day": "每日各主题报道数",
    "trends.weighted": "（按媒体数×语言数加权）",
    "trends.window_week": "截至 {end} UTC 的 {n} 周",
    "trends.window_day": "截至 {end} UTC 的 {n} 天",
    "trends.starts": "列：每{unit}的起始日期",
    "trends.shown": "仅显示最近 {shown} 列（共 {n} 列）",
    "trends.theme": "主题",
    "trends.all": "全部",
    "trends.total": "合计",
    "trends.trend": "走势",
    "trends.change": "环比",
    "trends.new": "新",
    "trends.week": "周",
    "trends.day": "日",
    "trends.empty": "此期间没有报道。",
    "trends.axis_week": "每周起始日（UTC）",
    "trends.axis_day": "每日起始（UTC）",
    "trends.axis_count": "报道数",
    "trends.axis_breadth": "媒体数×语言数（各报道之和）",
    "topic.trend": "本周 {n} 条，上周 {last} 条",
    "topic.trend_one": "本周 {n} 条，上周 {last} 条",
    "theme.llm": "大模型",
    "theme.multimodal": "多模态",
    "theme.world_models": "世界模型",
    "theme.bidding": "智能出价与广告",
    "theme.people_moves": "人事变动",
    "theme.other": "其他",
    "answer.not_found": "监控的来源中没有找到相关内容。",
    "answer.nothing_found": "监控的来源中没有找到相关内容。",
    "answer.top_stories": "监控的来源中最相关的报道：",
    # -- web --
    "web.site_title": "AI 新闻：每件事只说一次",
    "web.tagline": "中英文媒体报道，去重合并为事件",
    "web.home": "首页",
    "web.feeds": "订阅源",
    "web.search": "搜索",
    "web.search_placeholder": "用中文或英文提问、搜索",
    "web.other_lang": "English",
    "web.latest": "最新报道",
    "web.empty": "暂无报道。",
    "web.more_in": "更多「{name}」",
    "web.summary": "摘要",
    "web.coverage": "报道：{n} 篇",
    "web.timeline": "报道时间线",
    "web.moves": "人事变动",
    "web.related": "相关报道",
    "web.themes": "主题",
    "web.first_reported": "首次报道于 {date}",
    "web.all_coverage": "全部报道",
    "web.answer": "回答",
    "web.results": "找到的报道",
    "web.too_long": "问题太长：最多 {n} 个字符。",
    "web.rate_limited": "你的搜索太频繁，请稍等一分钟。",
    "web.not_found": "未找到",
    "web.not_found_text": "这里没有这个页面或报道。",
    "web.error": "出错了",
    "web.error_text": "页面无法显示，请稍后再试。",
    "web.theme_title": "主题：{name}",
    "web.chart_alt": "「{name}」每周报道数",
    "web.feed_links": "订阅此主题：Atom · JSON Feed",
    "web.feeds_text": "在任何阅读器中订阅主题：每件事一条，无论多少媒体报道。",
    "web.all_themes": "全部主题",
    "web.person_title": "人事变动：{name}",
    "web.person_none": "没有找到 {name} 的人事变动。",
    "web.person_search": "人物",
    "web.feed_title": "{name} · AI 新闻：每件事只说一次",
    "web.feed_entry": "{outlets}报道，语言：{langs}。",
    "web.source": "原文",
}

_TABLES = {"en": EN, "zh": ZH}


def word(key: str, lang: str, **slots: object) -> str:
    """The `key` template in `lang` (English when the language is unknown), filled with `slots`."""
    template = _TABLES.get(lang, EN)[key]
    return template.format(**slots) if slots else template


def has_word(key: str) -> bool:
    return key in EN


def theme_heading(theme: str, lang: str) -> str:
    """A theme's name as readers see it (plain text); a theme from config without a heading reads as its key."""
    key = f"theme.{theme}"
    return word(key, lang) if key in EN else theme.replace("_", " ").capitalize()


KNOWN_THEMES: tuple[str, ...] = tuple(key.removeprefix("theme.") for key in EN if key.startswith("theme."))
