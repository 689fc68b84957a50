"""The one table of user-facing words: both languages say the same things with the same slots."""

from __future__ import annotations

import string

from bot.core.words import EN, ZH, theme_heading, word


def slots(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_languages_have_every_phrase_with_the_same_slots():
    assert EN.keys() == ZH.keys()
    mismatched = [key for key in EN if slots(EN[key]) != slots(ZH[key])]
    assert mismatched == []


def test_a_phrase_is_filled_in_the_readers_language_and_english_is_the_fallback():
    assert word("who_header", "zh", name="贾扬清") == "<b>人事变动：贾扬清</b>"
    assert word("who_header", "fr", name="Jan Leike") == "<b>People moves: Jan Leike</b>"
    assert theme_heading("world_models", "zh") == "世界模型"
    assert theme_heading("robotics_arms", "en") == "Robotics arms"  # a config theme without a heading
