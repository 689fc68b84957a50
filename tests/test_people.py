"""People-moves extraction on hand-written items: invented people and companies, both languages."""

import pytest

from bot.ingest.people import Move, extract_moves, move_signature, resolve_story_moves


def moves(title: str, text: str = "", lang: str = "en") -> list[Move]:
    return extract_moves(title, text, lang)


def pairs(title: str, text: str = "", lang: str = "en") -> set[tuple[str, str]]:
    return {(m.person, m.to_org) for m in moves(title, text, lang)}


# --- join -------------------------------------------------------------------------------------------------


def test_join_with_role():
    assert moves("Maria Chen joins Mistral as head of research") == [
        Move("Maria Chen", "", "Mistral", "head of research", "join")
    ]


def test_join_in_a_title_case_headline():
    assert moves("Priya Raman Joins Anthropic As Head Of Alignment") == [
        Move("Priya Raman", "", "Anthropic", "Head Of Alignment", "join")
    ]


def test_join_takes_the_former_employer_from_the_descriptor():
    assert moves("Former Apple engineer Dana Whitfield is joining Cohere") == [
        Move("Dana Whitfield", "Apple", "Cohere", "", "join")
    ]


def test_leaving_one_lab_to_join_another_is_one_join():
    assert moves("Priya Raman leaves OpenAI to join Anthropic") == [
        Move("Priya Raman", "OpenAI", "Anthropic", "", "join")
    ]


def test_departs_for_names_the_destination():
    assert pairs("Apple's top AI model executive Rui Tanaka departs for Meta") == {("Rui Tanaka", "Meta")}


def test_moves_from_one_company_to_another():
    assert moves("Oscar Reyes moves from Meta to OpenAI") == [Move("Oscar Reyes", "Meta", "OpenAI", "", "join")]


def test_chinese_join_after_a_title_with_former_employer():
    assert moves("字节跳动前技术负责人王磊加盟阿里通义", lang="zh") == [Move("王磊", "字节跳动", "阿里", "", "join")]


def test_chinese_text_with_a_latin_name():
    assert moves("Jonas Vik 加入 Anthropic，继续可解释性研究", lang="zh") == [
        Move("Jonas Vik", "", "Anthropic", "", "join")
    ]


def test_transliterated_name_with_middle_dot_and_the_role_of_the_next_clause():
    assert moves("萨拉·奥康纳加盟英伟达，出任机器人研究副总裁", lang="zh") == [
        Move("萨拉·奥康纳", "", "英伟达", "机器人研究副总裁", "join")
    ]


def test_chinese_passive_poaching():
    assert moves("苹果基础模型团队负责人陈浩被 Meta 挖走", lang="zh") == [Move("陈浩", "", "Meta", "", "join")]


def test_join_as_a_role_takes_the_company_the_item_is_about():
    found = moves(
        "Veloria names Ruth Adeyemi CEO of its new robotics unit",
        "Former Cohere researcher Tariq Malik joins as chief scientist.",
    )
    assert ("Tariq Malik", "Veloria") in {(m.person, m.to_org) for m in found}


# --- org hires / names / fires X ------------------------------------------------------------------------


def test_org_hires_person_puts_the_org_in_to():
    assert moves("Nexora hires former Google Brain researcher Tomasz Wierzbicki") == [
        Move("Tomasz Wierzbicki", "Google Brain", "Nexora", "", "join")
    ]


def test_org_hires_an_ousted_executive():
    assert moves("Lumen hires ousted Vexa CEO Carla Nunez to lead a new agents team") == [
        Move("Carla Nunez", "Vexa", "Lumen", "lead a new agents team", "join")
    ]


def test_acquihire_including_ceo():
    assert pairs("Amazon acqui-hires the team behind Loomwork, including CEO Hannah Osei") == {
        ("Hannah Osei", "Amazon")
    }


def test_org_fires_person_is_a_departure():
    assert moves("Quanta board fires CEO Leo Brandt") == [Move("Leo Brandt", "Quanta", "", "", "leave")]


def test_chinese_org_appoints_person():
    assert moves("Anthropic 任命 Laura Petrov 为首席产品官", lang="zh") == [
        Move("Laura Petrov", "", "Anthropic", "首席产品官", "appoint")
    ]


# --- leave ------------------------------------------------------------------------------------------------


def test_leave_with_role_and_former_org():
    assert moves("Tomas Berg resigns as CEO of Orbitai") == [
        Move("Tomas Berg", "Orbitai", "", "CEO of Orbitai", "leave")
    ]


def test_leave_across_a_relative_clause():
    assert moves("Rafael Ortiz, who led the speech team at Meta for five years, has resigned") == [
        Move("Rafael Ortiz", "", "", "", "leave")
    ]


def test_chinese_leave_then_start_up_keeps_no_destination():
    found = moves("腾讯混元负责人张伟离职，将创业做 AI 智能体", lang="zh")
    assert {(m.person, m.from_org, m.to_org, m.action) for m in found} == {
        ("张伟", "腾讯", "", "leave"),
        ("张伟", "腾讯", "", "found"),
    }


def test_chinese_leave_from_org():
    assert pairs("知名 AI 学者周晓宇宣布从微软离职", lang="zh") == {("周晓宇", "")}


def test_pronoun_refers_to_the_person_in_the_sentence():
    assert moves("Nexus AI's safety lead Hal Berger explains why he quit") == [Move("Hal Berger", "", "", "", "leave")]


# --- found ------------------------------------------------------------------------------------------------


def test_found_a_new_company_with_cofounders():
    found = moves(
        "Ilse Marten launches Corvid Labs, a new AI startup",
        "She co-founded Corvid Labs with former Meta researchers Jun Park and Ella Ross.",
    )
    assert {(m.person, m.to_org, m.action) for m in found} == {
        ("Ilse Marten", "Corvid Labs", "found"),
        ("Jun Park", "Corvid Labs", "found"),
        ("Ella Ross", "Corvid Labs", "found"),
    }


def test_two_founders_in_the_subject():
    found = moves("Ex-DeepMind researchers Arjun Mehta and Sofia Lindqvist found Parallax AI")
    assert found == [
        Move("Arjun Mehta", "DeepMind", "Parallax AI", "", "found"),
        Move("Sofia Lindqvist", "DeepMind", "Parallax AI", "", "found"),
    ]


def test_chinese_cofounders_and_a_named_company():
    assert pairs("前谷歌研究员刘洋、赵琳联合创立具身智能公司星河机器人", lang="zh") == {
        ("刘洋", "星河机器人"),
        ("赵琳", "星河机器人"),
    }


# --- return -----------------------------------------------------------------------------------------------


def test_return_to_a_former_employer():
    assert moves("Lucia Moretti is returning to Google after three years at Anthropic") == [
        Move("Lucia Moretti", "", "Google", "", "return")
    ]


def test_return_as_ceo():
    assert moves("Leo Brandt to return as Quanta CEO") == [Move("Leo Brandt", "", "Quanta", "CEO", "return")]


def test_chinese_return():
    assert moves("月之暗面联合创始人周明回归清华大学任教", lang="zh") == [
        Move("周明", "月之暗面", "清华大学", "", "return")
    ]


# --- appoint (a change of role inside one company: from = to) ---------------------------------------------


def test_interim_ceo_after_a_departure():
    found = moves("Kestrel AI CEO Marcus Lee steps down; CTO Ana Duarte named interim CEO")
    assert found == [
        Move("Marcus Lee", "Kestrel AI", "", "", "leave"),
        Move("Ana Duarte", "Kestrel AI", "Kestrel AI", "CEO", "appoint"),
    ]


def test_founder_becomes_chairman_at_the_company_the_item_is_about():
    found = moves(
        "Helix Robotics names Isabel Ortiz chief executive",
        "Ortiz, a former Microsoft executive, takes over from founder Paul Weber, who becomes chairman.",
    )
    assert found == [
        Move("Isabel Ortiz", "", "Helix Robotics", "chief executive", "appoint"),
        Move("Paul Weber", "Helix Robotics", "Helix Robotics", "chairman", "appoint"),
    ]


def test_chinese_role_change_takes_the_org_named_earlier_in_the_sentence():
    assert pairs("Nexa AI 与 Strix Labs 合并为 Nexa Strix Labs，林晓任 CEO", lang="zh") == {("林晓", "Nexa Strix Labs")}


# --- several people in one item ---------------------------------------------------------------------------


def test_org_hires_three_people():
    found = moves("Anthropic hires Samir Haddad, Olivia Grant and Wei Zhang from OpenAI's safety team")
    assert [(m.person, m.to_org, m.action) for m in found] == [
        ("Samir Haddad", "Anthropic", "join"),
        ("Olivia Grant", "Anthropic", "join"),
        ("Wei Zhang", "Anthropic", "join"),
    ]


def test_three_people_join():
    assert pairs("Ivo Brandt, Mira Sol and Tao Kim join Reka") == {
        ("Ivo Brandt", "Reka"),
        ("Mira Sol", "Reka"),
        ("Tao Kim", "Reka"),
    }


def test_appositive_list_before_the_verb():
    assert pairs("Two senior researchers, Ben Carter and Lily Huang, leave xAI") == {
        ("Ben Carter", ""),
        ("Lily Huang", ""),
    }


def test_html_entities_and_apostrophes_in_names():
    assert pairs("Adam D&#39;Souza joins xAI") == {("Adam D'Souza", "xAI")}


# --- not moves --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "text", "lang"),
    [
        ("Mistral releases Codestral, a 22B code model", "The model supports more than 80 languages.", "en"),
        (
            "Scaling Laws for Mixture-of-Experts Language Models",
            "We study how the number of experts affects loss at a fixed compute budget.",
            "en",
        ),
        ("Anthropic raises $4 billion from Amazon", "The new funding brings Amazon's total investment to $8B.", "en"),
        ("OpenAI joins the Frontier Model Forum", "The industry body will fund safety research.", "en"),
        ("Startup joins forces with Stanford to build medical AI", "", "en"),
        ("Nora Vance says Lumen-2 will arrive this summer", "Vance told podcast hosts the model is close.", "en"),
        ("Meta launches Emu Video for text-to-video generation", "Emu Video produces four-second clips.", "en"),
        ("Greg Lin, who left OpenAI in 2020, now runs a seed fund", "", "en"),
        ("In 2016, Nora Vance joined Google Brain", "", "en"),
        ("Please leave a comment below", "Fallen leaves cover the path.", "en"),
        ("Local musician named as 'person of interest' in court documents", "Dale Price named as suspect.", "en"),
        ("Podcast 42: the season finale", "Guest host Nina Park joins Ryan and Vinny to discuss the year.", "en"),
        ("用户加入等待名单即可体验新模型", "官方表示将逐步扩大开放范围。", "zh"),
        ("阿里发布通义千问 2.5，性能追平 GPT-4 Turbo", "阿里云 CTO 周靖人在发布会上介绍了新模型。", "zh"),
        ("智谱完成新一轮融资，估值超 200 亿元", "本轮融资由多家基金领投。", "zh"),
        ("华为加入开放原子开源基金会", "华为表示将持续投入开源社区建设。", "zh"),
        ("张宏江曾任微软亚洲研究院院长", "他目前担任研究院理事长。", "zh"),
        ("法国创业公司 Mistral AI 发布新模型", "这家创业公司成立于 2023 年。", "zh"),
    ],
)
def test_items_that_are_not_about_a_person_moving(title: str, text: str, lang: str):
    assert extract_moves(title, text, lang) == []


# --- one story ----------------------------------------------------------------------------------------------


def test_story_resolves_a_surname_to_the_full_name_another_item_gives():
    story = [
        moves("先驱 Novak 离开谷歌", lang="zh"),
        moves("Karla Novak leaves Google to speak freely about AI risk"),
    ]
    assert story[0] == [Move("Novak", "谷歌", "", "", "leave")]
    assert resolve_story_moves(story) == [Move("Karla Novak", "谷歌", "", "", "leave")]


def test_surname_resolved_inside_one_item():
    found = moves("Vera Lindgren departs Orbitai", "Lindgren, who resigned earlier this week, thanked the team.")
    assert found == [Move("Vera Lindgren", "Orbitai", "", "", "leave")]


def test_story_keeps_the_named_destination_over_an_unnamed_one():
    story = [
        [Move("Karla Novak", "Google", "", "", "found")],
        [Move("Karla Novak", "Google", "Lumen Labs", "co-founder", "found")],
    ]
    assert resolve_story_moves(story) == [Move("Karla Novak", "Google", "Lumen Labs", "co-founder", "found")]


def test_story_collapses_duplicates_and_org_spellings():
    story = [
        [Move("Ana Duarte", "", "DeepMind", "CEO", "appoint")],
        [Move("Ana Duarte", "", "Google DeepMind", "", "appoint")],
        [Move("Ana Duarte", "", "Google DeepMind", "CEO", "appoint")],
    ]
    assert resolve_story_moves(story) == [Move("Ana Duarte", "", "Google DeepMind", "CEO", "appoint")]


def test_story_keeps_different_people_apart():
    story = [moves("Ivo Brandt, Mira Sol and Tao Kim join Reka"), moves("Mira Sol joins Reka as chief scientist")]
    assert {(m.person, m.to_org) for m in resolve_story_moves(story)} == {
        ("Ivo Brandt", "Reka"),
        ("Mira Sol", "Reka"),
        ("Tao Kim", "Reka"),
    }


# --- signatures for dedup -----------------------------------------------------------------------------------


def test_signature_tells_firing_hiring_and_reinstatement_apart():
    fired = move_signature(moves("Quanta board fires CEO Leo Brandt"))
    hired = move_signature(moves("Orbital hires ousted Quanta CEO Leo Brandt to lead a new lab"))
    back = move_signature(moves("Leo Brandt to return as Quanta CEO"))
    assert fired == {("brandt", "leave")}
    assert hired == {("brandt", "join")}
    assert back == {("brandt", "return")}
    assert len({fired, hired, back}) == 3


def test_signature_matches_a_surname_only_report_of_the_same_move():
    full = move_signature(moves("Leo Brandt to return as Quanta CEO"))
    short = move_signature([Move("Brandt", "", "Quanta", "", "return")])
    assert full == short


def test_signature_of_an_item_without_moves_is_empty():
    assert move_signature(moves("Mistral releases Codestral, a 22B code model")) == frozenset()
