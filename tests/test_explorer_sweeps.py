"""explorer.sweeps and explorer.sweep_stats: manifests read safely, one row per run with its live
state and final metrics, mean ± std over seeds per grid point, and which differences exceed the
seeds' spread.

Sweeps are hand-made (tests/fakesweep.py): ordinary fake runs with chosen accuracies, plus the
manifest that ``python -m training sweep`` writes.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from fakesweep import make_sweep, write_manifest

from explorer import sweep_stats, sweeps

REGIMES = ["nn-other", "nn-non-neighbour"]
# regime 2 is clearly better: 0.90 ± 0.01 against 0.70 ± 0.01
ACCURACY = {("nn-other", 0): 0.69, ("nn-other", 1): 0.70, ("nn-other", 2): 0.71,
            ("nn-non-neighbour", 0): 0.89, ("nn-non-neighbour", 1): 0.90, ("nn-non-neighbour", 2): 0.91}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    make_sweep(root, "regimes", {"regime": REGIMES}, accuracy=lambda v, s: ACCURACY[(v["regime"], s)],
               created_at=2000, separation=lambda v, s: 4.0 if v["regime"] == "nn-other" else 1.0)
    # two options swept; the last seed of one grid point still running, one pending, one failed
    make_sweep(root, "two-options", {"embedding_dim": [2, 4, 8], "loss": ["contrastive", "triplet"]},
               seeds=(0, 1), accuracy=lambda v, s: 0.5 + 0.05 * v["embedding_dim"] / 2 + 0.01 * s
               + (0.1 if v["loss"] == "triplet" else 0),
               states={(0, 1): "running", (1, 1): "pending", (2, 0): "failed"}, created_at=1000, shuffle=True)
    return root


def test_list_sweeps_reads_good_manifests_newest_first(root):
    found = sweeps.list_sweeps(root)
    assert [s.id for s in found] == ["regimes", "two-options"]
    regimes = found[0]
    assert regimes.readable and regimes.swept == {"regime": REGIMES} and regimes.seeds == [0, 1, 2]
    assert len(regimes.runs) == 6 and regimes.created_at == 2000
    assert "regime nn-other, nn-non-neighbour" in regimes.describe() and "6 of 6 runs finished" in regimes.describe()


BAD = {
    "garbage": ("{ not json", "not valid JSON"),
    "nan": ('{"format_version": 1, "created_at": NaN, "swept": {}, "runs": []}', "not valid JSON"),
    "list": ("[1, 2]", "does not hold a JSON object"),
    "version": (json.dumps({"format_version": 9, "swept": {}, "runs": []}), "format version 9"),
    "swept": (json.dumps({"format_version": 1, "swept": {"regime": []}, "runs": []}), "non-empty lists"),
    "runs": (json.dumps({"format_version": 1, "swept": {"a": [1]}, "runs": [3]}), "run 0 must be an object"),
    "seeds": (json.dumps({"format_version": 1, "swept": {"a": [1]}, "seeds": ["x"], "runs": []}), "whole numbers"),
    "binary": (b"\xff\xfe\x00garbage", "not valid JSON"),
}


def test_a_bad_manifest_is_listed_as_unreadable_with_one_line(tmp_path):
    for name, (text, _) in BAD.items():
        folder = tmp_path / "sweeps" / name
        folder.mkdir(parents=True)
        (folder / "sweep.json").write_bytes(text if isinstance(text, bytes) else text.encode())
    (tmp_path / "sweeps" / "empty-folder").mkdir()
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "sweep.json").write_text(json.dumps({"format_version": 1, "swept": {"a": [1]}, "runs": []}))
    os.symlink(outside, tmp_path / "sweeps" / "link-out")
    found = {s.id: s for s in sweeps.list_sweeps(tmp_path)}
    assert set(found) == {*BAD, "empty-folder", "link-out"}
    for name, (_, words) in BAD.items():
        assert not found[name].readable and words in found[name].error, (name, found[name].error)
    assert "missing" in found["empty-folder"].error
    assert "outside" in found["link-out"].error
    assert all("\n" not in s.error for s in found.values())
    with pytest.raises(sweeps.SweepError, match="unreadable"):
        sweeps.sweep_table(found["garbage"])


def test_no_sweeps_folder_lists_nothing(tmp_path):
    assert sweeps.list_sweeps(tmp_path) == [] and sweeps.list_sweeps(tmp_path / "nope") == []


def test_sweep_table_has_each_run_with_its_values_state_and_metrics(root):
    table = sweeps.sweep_table(sweeps.read_sweep(root / "sweeps" / "regimes"))
    assert list(table.columns[:3]) == ["regime", "seed", "state"]
    assert len(table) == 6 and set(table["state"]) == {"finished"}
    for _, row in table.iterrows():
        assert row["test_knn_accuracy"] == pytest.approx(ACCURACY[(row["regime"], row["seed"])])
        assert row["shifted_knn_accuracy"] == pytest.approx(row["test_knn_accuracy"] - 0.1)
    # the AUC is the summary's (fresh seeded test pairs): tight classes separate better
    auc = table.groupby("regime")["verification_auc"].mean()
    assert auc["nn-other"] > auc["nn-non-neighbour"] and 0.5 <= auc.min() <= auc.max() <= 1
    assert table.attrs["swept"] == {"regime": REGIMES}


def test_states_come_from_the_runs_themselves(root, tmp_path):
    table = sweeps.sweep_table(sweeps.read_sweep(root / "sweeps" / "two-options"))
    states = {(r["embedding_dim"], r["loss"], r["seed"]): r["state"] for _, r in table.iterrows()}
    assert states[(2, "contrastive", 1)] == "running" and states[(2, "triplet", 1)] == "pending"
    assert states[(4, "contrastive", 0)] == "failed" and states[(8, "triplet", 0)] == "finished"
    pending = table[table["state"] == "pending"].iloc[0]
    assert pd.isna(pending["run"]) and np.isnan(pending["test_knn_accuracy"])
    running = table[table["state"] == "running"].iloc[0]
    assert np.isnan(running["verification_auc"])  # measured for finished runs only

    # a manifest written while a run ran says "running"; the run's status.json says finished
    manifest = make_sweep(tmp_path, "edited", {"regime": REGIMES}, seeds=(0, 1))
    manifest["runs"][0]["state"] = "running"
    manifest["runs"][1]["run"] = "20990101-gone"
    manifest["runs"][2]["run"] = "../outside"
    manifest["runs"][3]["run"] = "20990101-gone-pending"
    manifest["runs"][3]["state"] = "pending"
    write_manifest(tmp_path, "edited", manifest)
    table = sweeps.sweep_table(sweeps.read_sweep(tmp_path / "sweeps" / "edited"), with_auc=False)
    assert list(table["state"]) == ["finished", "missing", "unreadable", "pending"]
    assert "missing" in table["error"][1] and "outside the runs directory" in table["error"][2]
    assert table["verification_auc"].isna().all()


def test_aggregate_gives_mean_std_and_n_over_the_finished_seeds(root):
    table = sweeps.sweep_table(sweeps.read_sweep(root / "sweeps" / "regimes"), with_auc=False)
    agg = sweep_stats.aggregate(table, "test_knn_accuracy")
    assert list(agg["regime"]) == REGIMES
    for _, row in agg.iterrows():
        expected = [ACCURACY[(row["regime"], s)] for s in (0, 1, 2)]
        assert row["mean"] == pytest.approx(np.mean(expected))
        assert row["std"] == pytest.approx(np.std(expected, ddof=1))
        assert row["n"] == 3 and row["seeds"] == (0, 1, 2)


def test_aggregate_counts_only_finished_runs_and_keeps_the_grid_order(root):
    table = sweeps.sweep_table(sweeps.read_sweep(root / "sweeps" / "two-options"), with_auc=False)
    agg = sweep_stats.aggregate(table, "test_knn_accuracy")
    # the manifest lists its runs backwards; the grid keeps the swept values' order
    assert list(zip(agg["embedding_dim"], agg["loss"])) == [(2, "contrastive"), (2, "triplet"), (4, "contrastive"),
                                                            (4, "triplet"), (8, "contrastive"), (8, "triplet")]
    n = dict(zip(zip(agg["embedding_dim"], agg["loss"]), agg["n"]))
    assert n == {(2, "contrastive"): 1, (2, "triplet"): 1, (4, "contrastive"): 1, (4, "triplet"): 2,
                 (8, "contrastive"): 2, (8, "triplet"): 2}
    one = agg[(agg["embedding_dim"] == 2) & (agg["loss"] == "contrastive")].iloc[0]
    assert one["mean"] == pytest.approx(0.55) and np.isnan(one["std"])  # one seed: no spread
    by_dim = sweep_stats.aggregate(table, "test_knn_accuracy", by=["embedding_dim"])
    assert list(by_dim["embedding_dim"]) == [2, 4, 8] and list(by_dim["n"]) == [2, 3, 4]
    with pytest.raises(ValueError, match="no column"):
        sweep_stats.aggregate(table, "nope")


def test_differences_say_which_exceed_the_spread_between_seeds(root):
    table = sweeps.sweep_table(sweeps.read_sweep(root / "sweeps" / "regimes"), with_auc=False)
    diff = sweep_stats.differences(sweep_stats.aggregate(table, "test_knn_accuracy"))
    assert len(diff) == 1
    row = diff.iloc[0]
    assert (row["a"], row["b"]) == ("regime nn-other", "regime nn-non-neighbour")
    assert row["delta"] == pytest.approx(0.2) and row["pooled_std"] == pytest.approx(0.01)
    assert row["exceeds"] is True or row["exceeds"] == True  # noqa: E712 - a numpy bool in a frame
    assert row["welch_p"] < 0.001 and row["verdict"].startswith("yes: higher")
    assert "pooled" in diff.attrs["rule"] and "Welch" in diff.attrs["rule"]


def test_a_difference_within_the_spread_does_not_exceed_it():
    found = sweep_stats.compare_values([0.70, 0.80, 0.90], [0.75, 0.85, 0.95])
    assert found["delta"] == pytest.approx(0.05) and found["pooled_std"] == pytest.approx(0.1)
    assert found["exceeds"] is False and found["welch_p"] > 0.5
    assert sweep_stats.compare_values([0.7], [0.9])["exceeds"] is None  # one seed: the spread is unknown
    same = sweep_stats.compare_values([0.8, 0.8], [0.9, 0.9])
    assert same["exceeds"] is True and same["welch_p"] == 0.0


def test_differences_of_many_grid_points_compare_neighbours(root):
    table = sweeps.sweep_table(sweeps.read_sweep(root / "sweeps" / "two-options"), with_auc=False)
    diff = sweep_stats.differences(sweep_stats.aggregate(table, "test_knn_accuracy"))
    # 6 grid points: neighbours only, along each option with the other held: 2-4, 4-8 per loss, and
    # contrastive-triplet per size
    assert diff.attrs["pairs"] == "adjacent" and len(diff) == 7
    pairs = set(zip(diff["a"], diff["b"]))
    assert ("embedding_dim 2, loss triplet", "embedding_dim 4, loss triplet") in pairs
    assert ("embedding_dim 2, loss contrastive", "embedding_dim 8, loss contrastive") not in pairs
    one_seed = diff[diff["a"] == "embedding_dim 2, loss contrastive"]
    assert one_seed["exceeds"].isna().all() and one_seed["verdict"].str.startswith("too few").all()
    assert len(sweep_stats.differences(sweep_stats.aggregate(table, "test_knn_accuracy"), pairs="all")) == 15
    with pytest.raises(ValueError, match="pairs must be"):
        sweep_stats.differences(sweep_stats.aggregate(table, "test_knn_accuracy"), pairs="some")


def test_sweep_figure_plots_mean_and_std_against_the_swept_value(root):
    table = sweeps.sweep_table(sweeps.read_sweep(root / "sweeps" / "regimes"))
    fig = sweep_stats.sweep_figure(table)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == list(sweeps.METRICS.values())
    means = [t for t in fig.data if t.mode == "lines+markers"]
    assert len(means) == 3  # one line per panel: one option swept
    knn = means[0]
    assert list(knn.x) == [0, 1] and list(knn.y) == pytest.approx([0.70, 0.90])
    assert list(knn.error_y.array) == pytest.approx([0.01, 0.01])
    dots = [t for t in fig.data if t.name == "each seed"]
    assert len(dots[0].x) == 6
    assert fig.layout.xaxis.title.text == "regime" and list(fig.layout.xaxis.ticktext) == REGIMES
    assert list(fig.layout.xaxis.tickvals) == [0, 1]
    # each seed's dot sits just right of its mean, where the error bar does not hide it
    assert sorted(set(np.round(dots[0].x, 3))) == [0.035, 1.035] and sorted(dots[0].y) == pytest.approx(
        sorted(ACCURACY.values()))


def test_sweep_figure_draws_one_line_per_value_of_the_other_option(root):
    table = sweeps.sweep_table(sweeps.read_sweep(root / "sweeps" / "two-options"), with_auc=False)
    fig = sweep_stats.sweep_figure(table, metrics=["test_knn_accuracy"])
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert [t.name for t in lines] == ["loss contrastive", "loss triplet"]
    assert list(lines[1].y) == pytest.approx([0.65, 0.705, 0.805])
    # the two lines are drawn a little apart at each size, so their error bars do not overlap
    assert list(lines[0].x) == pytest.approx([-0.04, 0.96, 1.96]) and list(lines[1].x) == pytest.approx([0.04, 1.04, 2.04])
    assert list(fig.layout.xaxis.ticktext) == ["2", "4", "8"]  # one seed at 2 and 4: no error bar there
    assert list(lines[0].error_y.array)[:2] == [0, 0]
    by_loss = sweep_stats.sweep_figure(table, metrics=["test_knn_accuracy"], x="loss")
    assert [t.name for t in by_loss.data if t.mode == "lines+markers"] == [
        "embedding_dim 2", "embedding_dim 4", "embedding_dim 8"]
    with pytest.raises(ValueError, match="not a swept option"):
        sweep_stats.sweep_figure(table, x="margin")


def test_run_figures_are_remembered_until_the_run_changes(root, monkeypatch):
    from explorer import distances

    path = sweeps.sweep_table(sweeps.read_sweep(root / "sweeps" / "regimes"), with_auc=False)["path"][0]
    first = sweeps.verification_auc(path)
    calls = []

    def fails(*args, **kwargs):
        calls.append(1)
        raise ZeroDivisionError("computed again")

    monkeypatch.setattr(distances, "run_pair_distances", fails)
    assert sweeps.verification_auc(path) == first and not calls  # not computed again
    status = os.path.join(path, "status.json")
    os.utime(status, (os.path.getmtime(status) + 10,) * 2)
    with pytest.raises(ZeroDivisionError):
        sweeps.verification_auc(path)  # the run changed: computed again
    assert calls


def test_a_sweep_of_seeds_alone_has_one_grid_point(tmp_path):
    """``sweep --preset seed000-inlab --seeds 0 1 2`` sweeps no option: one setup over its seeds."""
    make_sweep(tmp_path, "repeat", {}, accuracy=lambda v, s: 0.80 + 0.01 * s)
    table = sweeps.sweep_table(sweeps.read_sweep(tmp_path / "sweeps" / "repeat"), with_auc=False)
    assert list(table["seed"]) == [0, 1, 2] and table.attrs["swept"] == {}
    agg = sweep_stats.aggregate(table, "test_knn_accuracy")
    assert len(agg) == 1 and agg["mean"][0] == pytest.approx(0.81) and agg["std"][0] == pytest.approx(0.01)
    assert agg["n"][0] == 3 and len(sweep_stats.differences(agg)) == 0
    with pytest.raises(ValueError, match="sweeps no option"):
        sweep_stats.sweep_figure(table)
