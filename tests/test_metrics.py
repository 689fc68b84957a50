"""The scoring rules of ../shared/eval/FORMAT.md, on cases computed by hand."""

import pytest

from bot.eval.metrics import (
    NameCanon,
    bcubed,
    classification,
    multilabel_micro_f1,
    pairwise,
    people_moves,
    recall_at,
    reciprocal_rank,
)


def test_pairwise_by_hand():
    # true: {a,b,c} {d}; pred: {a,b} {c,d}
    true = ["s1", "s1", "s1", "s2"]
    pred = [1, 1, 2, 2]
    result = pairwise(true, pred)
    # true pairs: ab ac bc = 3; predicted pairs: ab cd = 2; correct: ab = 1
    assert result.precision == pytest.approx(1 / 2)
    assert result.recall == pytest.approx(1 / 3)
    assert result.f1 == pytest.approx(0.4)


def test_bcubed_by_hand():
    true = ["s1", "s1", "s1", "s2"]
    pred = [1, 1, 2, 2]
    result = bcubed(true, pred)
    # precision per item: a 2/2, b 2/2, c 1/2, d 1/2 → 0.75 ; recall: a 2/3, b 2/3, c 1/3, d 1/1 → 2/3
    assert result.precision == pytest.approx(0.75)
    assert result.recall == pytest.approx(2 / 3)
    assert result.f1 == pytest.approx(2 * 0.75 * (2 / 3) / (0.75 + 2 / 3))


def test_all_singletons_score_perfect_pairwise():
    assert pairwise(["a", "b"], [1, 2]).f1 == 1.0


def test_classification_by_hand():
    result = classification(["llm", "llm", "other"], ["llm", "other", "other"], ["llm", "other"])
    assert result["accuracy"] == pytest.approx(2 / 3)
    # llm: P 1/1 R 1/2 → F1 2/3; other: P 1/2 R 1/1 → F1 2/3
    assert result["per_theme"] == {"llm": pytest.approx(0.6667, abs=1e-4), "other": pytest.approx(0.6667, abs=1e-4)}
    assert result["macro_f1"] == pytest.approx(2 / 3, abs=1e-4)


def test_multilabel_micro_f1_by_hand():
    # tp = 1 + 1, predicted = 2 + 1, actual = 1 + 2 → P 2/3 R 2/3
    assert multilabel_micro_f1([{"llm"}, {"llm", "multimodal"}], [{"llm", "other"}, {"multimodal"}]) == pytest.approx(
        2 / 3
    )


def test_name_canon_folds_spelling_and_aliases():
    canon = NameCanon({"people": {"Andrej Karpathy": ["安德烈·卡帕西"]}, "orgs": {"Microsoft": ["微软"]}})
    assert canon("安德烈 · 卡帕西") == canon("andrej karpathy") == "andrejkarpathy"
    assert canon("微软") == "microsoft"
    assert canon("Jan-Leike") == "janleike"


def test_people_moves_by_hand():
    canon = NameCanon({"people": {"Sam Altman": ["山姆·奥特曼"]}, "orgs": {"Microsoft": ["微软"]}})
    gold = {
        "s1": {("Sam Altman", "Microsoft")},
        "s2": {("Mustafa Suleyman", "Microsoft AI"), ("Karén Simonyan", "Microsoft")},
        "s3": {("Geoffrey Hinton", "")},
    }
    predicted = {
        "s1": {("山姆·奥特曼", "微软")},  # aliases → match
        "s2": {("Mustafa Suleyman", "Microsoft")},  # containment → match; Simonyan missed
        "s3": {("Geoffrey Hinton", "Vector Institute")},  # one empty, one not → no match
    }
    result = people_moves(gold, predicted, canon)
    assert (result.precision, result.recall) == (pytest.approx(2 / 3), pytest.approx(2 / 4))


def test_search_metrics():
    assert recall_at(["a", "b", "c"], {"c", "z"}, 2) == 0.0
    assert recall_at(["a", "b", "c"], {"c", "z"}, 3) == 0.5
    assert recall_at(["a", "b"], {"a", "b", "c"}, 2) == 1.0  # the top 2 cannot hold all 3
    assert reciprocal_rank(["a", "b", "c"], {"b"}) == 0.5
    assert reciprocal_rank(["a"], {"b"}) == 0.0


def test_per_theme_precision_recall_and_named_scores_by_hand():
    true = ["llm", "other", "other", "other", "multimodal"]
    pred = ["llm", "llm", "other", "other", "other"]
    result = classification(true, pred, ["llm", "multimodal", "bidding", "other"], fallback="other")
    assert result["per_theme_precision"] == {
        "llm": 0.5,
        "multimodal": 0.0,
        "bidding": 0.0,
        "other": pytest.approx(0.6667),
    }
    assert result["per_theme_recall"] == {"llm": 1.0, "multimodal": 0.0, "bidding": 0.0, "other": pytest.approx(0.6667)}
    assert result["named_precision"] == 0.5  # two items put in a named theme, one of them rightly
    assert result["named_recall"] == 0.5  # two truly named items, one found
    # macro-F1 over the labels that occur: bidding (never true, never predicted) is not a zero
    assert result["macro_f1"] == pytest.approx((0.6667 + 0.0 + 0.6667) / 3, abs=1e-4)
