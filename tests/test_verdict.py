"""keras_entropy.experiments.verdict on records with known numbers: the table and the sentence."""

import pytest
from test_dense_autoencoder_study import record

from keras_entropy.experiments import verdict

pytestmark = pytest.mark.one_backend


def records():
    """Six epochs, three seeds each. No penalty ends at 0.392 on average and gets there at epochs 4, 5, 5.

    normalized gets there at epochs 2, 2, 3 and ends lower; volume at epoch 6
    in every seed (later) and ends lower; paper never gets there and ends higher.
    """
    base = [
        record(100, "none", [0.9, 0.7, 0.6, 0.385 if s == 0 else 0.5, 0.38, 0.39 + 0.002 * s], seed=s) for s in range(3)
    ]
    fast = [
        record(100, "normalized", [0.8, 0.38 if s < 2 else 0.5, 0.37, 0.36, 0.35, 0.34 + 0.002 * s], seed=s)
        for s in range(3)
    ]
    slow = [record(100, "volume", [0.9, 0.8, 0.7, 0.6, 0.5, 0.385 - 0.001 * s], seed=s) for s in range(3)]
    never = [record(100, "paper", [0.9, 0.8, 0.7, 0.6, 0.5, 0.45 + 0.01 * s], seed=s) for s in range(3)]
    return base + never + slow + fast


def test_speed_and_quality_words():
    rows = {r["penalty"]: r for r in verdict.verdict_rows(records())}
    base = rows["none"]
    assert base["reach_samples"] == [4, 5, 5]
    assert rows["normalized"]["reach_samples"] == [2, 2, 3]
    assert verdict.speed(rows["normalized"], base)[0] == "faster"
    assert verdict.speed(rows["volume"], base)[0] == "slower"
    assert verdict.speed(rows["paper"], base) == ("never", None)
    assert verdict.quality(rows["normalized"])[0] == "better"
    assert verdict.quality(rows["volume"])[0] == "better"
    assert verdict.quality(rows["paper"])[0] == "worse"
    assert verdict.quality(base) == ("same", None)


def test_comparison_sentence_names_faster_slower_and_never():
    sentence = verdict.comparison_sentence(verdict.verdict_rows(records()))
    assert sentence.startswith(
        "Against no penalty (final test_mse 3.920e-01, mean of 3 seeds, which its runs reach at epoch 4.7): "
    )
    assert "paper never got there and ended worse (+17.3%, p = 0.0028)" in sentence
    assert "volume got there later (epoch 6.0, p = 0.029) and ended better (-2.0%, p = " in sentence
    assert "normalized got there sooner (epoch 2.3, p = " in sentence
    assert sentence.endswith(".") and sentence.count(";") == 2


def test_comparison_sentence_without_baseline_and_across_widths():
    rows = verdict.verdict_rows([r for r in records() if r["config"]["penalty"] != "none"])
    assert verdict.comparison_sentence(rows) == "No runs without a penalty, so nothing can be compared."
    wide = [record(260, "none", [0.5, 0.4], seed=s) for s in range(2)]
    with pytest.raises(ValueError, match="one width"):
        verdict.comparison_sentence(verdict.verdict_rows(records() + wide))


def test_table_one_row_per_configuration():
    table = verdict.verdict_table(verdict.verdict_rows(records())).splitlines()
    assert table[0] == (
        "| config | hyperparameters | n | final test_mse [95% CI] | epochs to no penalty's final "
        "test_mse | p lower vs none | p sooner vs none |"
    )
    assert [line.split(" | ")[0] for line in table[2:]] == ["| none", "| paper", "| volume", "| normalized"]
    assert "never (3/3)" in table[3] and table[2].endswith("| - | - |")
