"""keras_entropy.experiments.analysis on records with known numbers: the table, the words and the sentence.

Epochs to the target are censored data (a Kaplan-Meier median, the exact
log-rank test), and every p-value of a table is Benjamini-Hochberg adjusted
over the table: checked here against what the old statistics (never counted
as one epoch past the last, Welch t-tests, no correction) said of the same
records.
"""

import pytest

from helpers import record
from keras_entropy.experiments import analysis

pytestmark = pytest.mark.one_backend


def records():
    """Six epochs, five seeds each. No penalty ends at 0.390 .. 0.398 (median 0.394).

    Its runs reach 0.394 at epochs 3, 3, 4 and never in two seeds (censored
    at epoch 6). normalized gets there at epochs 2, 2, 2, 3, 3 and ends lower;
    volume at epoch 6 in two seeds, never in three, and ends no different;
    paper never gets there and ends higher.
    """
    base = [
        record(100, "none", [0.9, 0.7, 0.39 if s < 2 else 0.5, 0.385 if s < 3 else 0.45, 0.4, 0.39 + 0.002 * s], seed=s)
        for s in range(5)
    ]
    fast = [
        record(100, "normalized", [0.8, 0.38 if s < 3 else 0.5, 0.37, 0.36, 0.35, 0.34 + 0.002 * s], seed=s)
        for s in range(5)
    ]
    slow = [
        record(100, "volume", [0.9, 0.8, 0.7, 0.6, 0.5, 0.385 - 0.001 * s if s < 2 else 0.41 + 0.001 * s], seed=s)
        for s in range(5)
    ]
    never = [record(100, "paper", [0.9, 0.8, 0.7, 0.6, 0.5, 0.45 + 0.01 * s], seed=s) for s in range(5)]
    return base + never + slow + fast


def by_penalty(rows):
    return {r["penalty"]: r for r in rows}


def test_epochs_are_censored_not_counted_past_the_last():
    rows = by_penalty(analysis.verdict_rows(records()))
    base, slow, fast = rows["none"], rows["volume"], rows["normalized"]
    assert (base["reach_times"], base["reach_reached"]) == ([3, 3, 4, 6, 6], [True, True, True, False, False])
    assert base["reach"] == (4, 3, None)  # the median's upper end was never reached within 6 epochs
    assert base["reach_cell"] == "4 [3, not reached] (2/5 never)"
    assert fast["reach"] == (2, 2, 3) and fast["reach_cell"] == "2 [2, 3]"
    assert slow["reach_cell"] == "not reached [6, not reached] (3/5 never)"
    assert rows["paper"]["reach_cell"] == "not reached (5/5 never)"
    # The old statistic: a mean of [3, 3, 4, 7, 7] (never = 6 + 1), 4.8 [2.3, 7.3], past the 6 epochs run.
    table = analysis.verdict_table(list(rows.values()))
    assert "7.3" not in table and ">=" not in table


def test_the_correction_changes_a_verdict_the_raw_test_would_give():
    rows = by_penalty(analysis.verdict_rows(records()))
    fast = rows["normalized"]
    # Exact log-rank, 5 runs against 5: 6 of the 252 relabellings are at least as extreme.
    assert fast["p"]["sooner"] == pytest.approx(6 / 252)
    assert fast["p"]["sooner"] < 0.05  # raw: sooner (the old Welch test on "never = 7" said p = 0.029)
    assert analysis.family_size(rows.values()) == 12  # 3 penalised configurations x (better, worse, sooner, later)
    # Benjamini-Hochberg by hand: the 12 p-values sorted, p * 12 / rank, the running minimum from the top.
    raw = sorted(p for r in rows.values() for p in r["p"].values() if p is not None)
    by_hand = [min(raw[j] * 12 / (j + 1) for j in range(i, 12)) for i in range(12)]
    assert fast["adjusted"]["sooner"] == pytest.approx(by_hand[raw.index(fast["p"]["sooner"])])
    assert fast["adjusted"]["sooner"] == pytest.approx(0.0952, abs=1e-4)
    assert analysis.speed(fast) == ("same", pytest.approx(0.0952, abs=1e-4))  # adjusted: no longer "faster"
    assert analysis.quality(fast)[0] == "better"  # 3.5e-9 raw, 4.2e-8 adjusted
    assert analysis.quality(rows["paper"])[0] == "worse"
    assert analysis.quality(rows["volume"]) == ("same", 1.0)
    assert analysis.speed(rows["paper"]) == ("never", None)
    assert analysis.quality(rows["none"]) == ("same", None)


def test_speed_faster_and_slower_on_clear_records():
    base = [record(100, "none", [0.9, 0.7, 0.6, 0.5, 0.4, 0.39 + 0.001 * s], seed=s) for s in range(5)]
    fast = [record(100, "normalized", [0.3, 0.3, 0.3, 0.3, 0.3, 0.3], seed=s) for s in range(5)]
    rows = by_penalty(analysis.verdict_rows(base + fast))
    assert rows["normalized"]["p"]["sooner"] == pytest.approx(1 / 252)
    assert analysis.speed(rows["normalized"])[0] == "faster"
    late = [record(100, "volume", [0.9, 0.9, 0.9, 0.9, 0.9, 0.3], seed=s) for s in range(5)]
    early = [record(100, "none", [0.3] * 6, seed=s) for s in range(5)]
    rows = by_penalty(analysis.verdict_rows(early + late))
    assert analysis.speed(rows["volume"])[0] == "slower"


def test_comparison_sentence_says_adjusted_and_median():
    sentence = analysis.comparison_sentence(analysis.verdict_rows(records()))
    assert sentence.startswith(
        "Against no penalty (final test_mse 3.940e-01, mean of 5 seeds; its runs reach their own median final "
        "test_mse at median epoch 4 [3, not reached] (2/5 never)): "
    )
    assert "paper never got there and ended worse (+19.3%, adjusted p < 0.001)" in sentence
    assert "normalized was not significantly sooner (median epoch 2 [2, 3], adjusted p = 0.095) and ended" in sentence
    assert sentence.endswith("(one-tailed, Benjamini-Hochberg adjusted over the 12 p-values of the table, p < 0.05).")
    # 5 runs against 5 can reach 1/252: no remark. 3 against 3 cannot go below 1/20: said so.
    three = [r for r in records() if r["seed"] < 3]
    assert analysis.sooner_floor(analysis.verdict_rows(three)) == pytest.approx(0.05)
    assert analysis.comparison_sentence(analysis.verdict_rows(three)).endswith(
        'With 3 runs against 3, the exact log-rank test cannot give a p-value below 0.05, so no "sooner" can be '
        "significant: more seeds can."
    )


def test_comparison_sentence_without_baseline_and_across_widths():
    rows = analysis.verdict_rows([r for r in records() if r["config"]["penalty"] != "none"])
    assert analysis.comparison_sentence(rows) == "No runs without a penalty, so nothing can be compared."
    wide = [record(260, "none", [0.5, 0.4], seed=s) for s in range(2)]
    with pytest.raises(ValueError, match="one width"):
        analysis.comparison_sentence(analysis.verdict_rows(records() + wide))


def test_table_one_row_per_configuration_raw_and_adjusted():
    table = analysis.verdict_table(analysis.verdict_rows(records())).splitlines()
    assert table[0] == (
        "| config | hyperparameters | n | final test_mse [95% CI] | difference vs none [95% CI] | p lower vs none "
        "| p higher vs none | epochs to no penalty's median final test_mse (median [95% CI]) | p sooner vs none "
        "| p later vs none |"
    )
    assert [line.split(" | ")[0] for line in table[2:]] == ["| none", "| paper", "| volume", "| normalized"]
    assert table[2].endswith("| - | - |")
    assert "| 0.0238 (adj 0.0952) | 1 (adj 1) |" in table[5]
    assert "| -5.000e-02 [-5.461e-02, -4.539e-02] |" in table[5]  # the Welch interval of the difference


def test_next_step_is_computed_from_the_rows():
    rows = analysis.verdict_rows(records())
    # normalized ended better (adjusted p 4e-8) and no peer ran: use it, with the caveat.
    assert analysis.next_step(rows) == (
        "What to do: use normalized at these settings (lr 0.001, lam 0.01, encoder): it ended better than no "
        "penalty (after 6 epochs of this data: check it on yours before relying on it)."
    )
    plain = analysis.verdict_rows([r for r in records() if r["config"]["penalty"] != "normalized"])
    assert analysis.next_step(plain).startswith("What to do: nothing here beat no penalty, so train without one")
    peer = [record(100, "orthogonal", [0.8, 0.38, 0.37, 0.36, 0.35, 0.339 + 0.002 * s], seed=s) for s in range(5)]
    both = analysis.verdict_rows(records() + peer)
    assert "no better than Keras's own orthogonal peer, which needs no add-on" in analysis.next_step(both)
