"""Theme candidates: tight, large topics of `other` as a ready-to-paste `themes:` entry (`suggest_themes`).

Apart because it is the one consumer of YAML here and an aid to editing the config, not part of
finding topics: adding a theme stays a config edit the user reviews.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

import yaml

from bot.insight.topics.labels import _Labeller, _Term
from bot.insight.topics.model import SUGGEST_EXAMPLES, SUGGEST_KEYWORDS, SUGGEST_MIN_STORIES, SUGGEST_TIGHTNESS, Topic
from bot.storage import StorySummary


def suggest_themes(
    topics_of_other: Sequence[Topic], stories: Mapping[int, StorySummary], existing: Collection[str] = ()
) -> str:
    """YAML entries to paste under `themes:` for the tight, large topics of `other`; "" when none qualifies.

    Each entry is a valid `ThemeConfig` (description, bilingual keywords, example headlines) named by
    its best English term that is not a name, indented to sit under `themes:`. The terms are ranked
    against the other topics of `other`, as the labels are.
    """
    if not any(is_theme_candidate(topic) for topic in topics_of_other):
        return ""
    labeller = _Labeller.fit([[stories[i] for i in t.story_ids if i in stories] for t in topics_of_other], [])
    entries: dict[str, dict[str, object]] = {}
    notes: list[str] = []
    taken = set(existing)
    for index, topic in enumerate(topics_of_other):
        if not is_theme_candidate(topic):
            continue
        members = [stories[i] for i in topic.story_ids if i in stories]
        terms = labeller.ranked(index)
        name = _slug(terms, topic, taken)
        taken.add(name)
        entries[name] = _theme_entry(terms, members)
        notes.append(f"# {name}: {len(topic.story_ids)} stories of `other`, tightness {topic.tightness:.2f}")
    dumped = yaml.safe_dump(entries, allow_unicode=True, sort_keys=False, width=100, default_flow_style=False)
    header = ["# Paste under `themes:` in sources.yaml after reviewing the wording:", *notes]
    return "\n".join(header + ["  " + line if line else line for line in dumped.splitlines()]) + "\n"


def is_theme_candidate(topic: Topic) -> bool:
    """Tight and large enough that a theme of its own would be worth a look."""
    return len(topic.story_ids) >= SUGGEST_MIN_STORIES and topic.tightness >= SUGGEST_TIGHTNESS


def _slug(terms: Sequence[tuple[float, _Term]], topic: Topic, taken: Collection[str]) -> str:
    """Named by its best English term that is not a name (a theme is a subject, not a company), or its best."""
    english = [term for _, term in terms if term.lang == "en"]
    chosen = next((term for term in english if not term.name), english[0] if english else None)
    english_key = chosen.key if chosen else ""
    base = re.sub(r"[^a-z0-9]+", "_", english_key).strip("_") or f"topic_{topic.representative_id}"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    return name


def _theme_entry(terms: Sequence[tuple[float, _Term]], members: Sequence[StorySummary]) -> dict[str, object]:
    english = [term.text for _, term in terms if term.lang == "en"][:SUGGEST_KEYWORDS]
    chinese = [term.text for _, term in terms if term.lang == "zh"][:SUGGEST_KEYWORDS]
    examples = list(dict.fromkeys(t for story in members for t in (story.title_en, story.title_zh) if t))
    lead = members[0].title_in("en") if members else ""
    description = f"News about {', '.join(english[:3]) or 'this topic'}, such as: {lead}"
    if chinese:
        description += f" 关于{'、'.join(chinese[:3])}的新闻。"
    return {
        "description": description,
        "keywords": {"en": english, "zh": chinese},
        "examples": examples[:SUGGEST_EXAMPLES],
    }
