"""explorer.seeds: each seed claim is reproduced, not reproduced or not yet run on hand-made runs
whose right answer is known (tests/fakesweep.py), runs belong to presets by their recorded preset
or their options, and ``python -m explorer seeds`` prints the same table."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fakerun import add_magnet_clusters
from fakesweep import edit_snapshot, make_preset_run, place_shifted, scale_classes, set_accuracy

from explorer import seeds
from explorer.cli import main

SEED000 = {"dataset": "mnist", "classes": ["4", "9"], "loss": "contrastive", "embedding_dim": 2}


def check(root, claim_id: str) -> seeds.Result:
    (result,) = seeds.check_claims(root, claims=[seeds.CLAIMS_BY_ID[claim_id]])
    return result


# What each preset's runs hold in their config.json besides the preset (the options that make it).
PRESET_CONFIG = {
    "seed000-inlab": {**SEED000, "regime": "random"},
    "seed000-outlab-regime1": {**SEED000, "regime": "nn-other"},
    "seed000-outlab-regime2": {**SEED000, "regime": "nn-non-neighbour"},
    "seed000-augmented": {**SEED000, "regime": "random", "train_shifts": [-6, -3, 3, 6]},
    "seed001-magnet": {"dataset": "mnist", "loss": "magnet", "alpha": 1.0},
    "seed001-magnet-alpha1.5": {"dataset": "mnist", "loss": "magnet", "alpha": 1.5},
    "seed003-folder-triplet64": {"dataset": "folder", "loss": "triplet", "embedding_dim": 64},
    **{f"seed004-{loss}": {"dataset": "fashion-mnist", "loss": loss, "embedding_dim": 32, "normalize": True}
       for loss in ("bce", "contrastive", "triplet")},
    "seed004-embedding-size": {"dataset": "fashion-mnist", "loss": "triplet", "normalize": True},
}


def run(root, preset, i=0, **kwargs):
    """A finished fake run of ``preset`` (recorded in its config.json, with the preset's options)."""
    options = {**PRESET_CONFIG.get(preset, {}), **kwargs}
    return make_preset_run(root, f"20260301-0000{i:02d}-{preset}-{i}", preset, seed=i, **options)


# ---------------------------------------------------------------- 000: regime 2 spreads each class more


@pytest.mark.parametrize("factor, status", [(2.0, seeds.REPRODUCED), (0.5, seeds.NOT_REPRODUCED)])
def test_regime_2_spreads_each_class_more(tmp_path, factor, status):
    one = run(tmp_path, "seed000-outlab-regime1")
    two = run(tmp_path, "seed000-outlab-regime2", 1)
    scale_classes(two, factor)
    result = check(tmp_path, "000-spread")
    assert result.status == status, result.evidence
    size_one, size_two = seeds.cluster_size(str(one)), seeds.cluster_size(str(two))
    assert size_two == pytest.approx(factor * size_one, rel=0.3)
    assert f"{size_two:.3f} under regime 2 vs {size_one:.3f} under regime 1" in result.evidence
    assert "over 1 run each" in result.evidence and "spread between seeds is unknown" in result.evidence
    assert result.runs == {"seed000-outlab-regime1": [one.name], "seed000-outlab-regime2": [two.name]}


def test_with_several_seeds_the_difference_must_exceed_their_spread(tmp_path):
    for folder, factors in (("within", [1.0, 2.0, 1.1, 2.1]), ("beyond", [1.0, 1.1, 2.0, 2.1])):
        presets = ["seed000-outlab-regime1"] * 2 + ["seed000-outlab-regime2"] * 2
        for i, (preset, factor) in enumerate(zip(presets, factors)):
            scale_classes(run(tmp_path / folder, preset, i), factor)
    within = check(tmp_path / "within", "000-spread")
    assert within.status == seeds.NOT_REPRODUCED  # larger, but well within the seeds' spread
    assert "within the spread between seeds" in within.evidence and "over 2 runs each" in within.evidence
    beyond = check(tmp_path / "beyond", "000-spread")
    assert beyond.status == seeds.REPRODUCED and "exceeds the spread between seeds" in beyond.evidence


# ---------------------------------------------------------------- 000: ±6 px confused more; shifts help


@pytest.mark.parametrize("moved, status", [({3: 0.0, 6: 12.0}, seeds.REPRODUCED),
                                           ({3: 12.0, 6: 0.0}, seeds.NOT_REPRODUCED)])
def test_large_shifts_are_confused_more(tmp_path, moved, status):
    for i in range(2):
        place_shifted(run(tmp_path, "seed000-inlab", i, separation=8.0), moved, seed=i)
    result = check(tmp_path, "000-shifts")
    assert result.status == status, result.evidence
    accuracies = [seeds.shift_accuracies(str(p)) for p in sorted(tmp_path.glob("*inlab*"))]
    six = np.mean([a[6] for a in accuracies] + [a[-6] for a in accuracies])
    three = np.mean([a[3] for a in accuracies] + [a[-3] for a in accuracies])
    assert f"k-NN accuracy at ±6 px {six:.2f} vs ±3 px {three:.2f} over 2 runs" in result.evidence
    assert max(six, three) == 1.0 and min(six, three) < 0.9


@pytest.mark.parametrize("plain, augmented, status", [(12.0, 0.0, seeds.REPRODUCED), (0.0, 12.0, seeds.NOT_REPRODUCED)])
def test_training_with_shifts_reduces_the_confusion(tmp_path, plain, augmented, status):
    place_shifted(run(tmp_path, "seed000-inlab", separation=8.0), {3: 0.0, 6: plain})
    place_shifted(run(tmp_path, "seed000-augmented", 1, separation=8.0, train_shifts=[-6, -3, 3, 6]),
                  {3: 0.0, 6: augmented})
    result = check(tmp_path, "000-augmented")
    assert result.status == status, result.evidence
    assert "with training shifts vs" in result.evidence and "all shifts" in result.evidence


def test_a_claim_without_its_runs_is_not_yet_run_and_says_what_to_run(tmp_path):
    run(tmp_path, "seed000-inlab", separation=8.0)
    run(tmp_path, "seed000-augmented", 1, state="running")
    result = check(tmp_path, "000-augmented")
    assert result.status == seeds.NOT_YET_RUN and result.missing == ["seed000-augmented"]
    assert result.evidence == "no finished run of seed000-augmented yet; 1 run still running or stopped early"
    assert seeds.commands(result.claim, result.missing, tmp_path) == [
        f"python -m training train --preset seed000-augmented --runs-dir {tmp_path}"]
    results = seeds.check_claims(tmp_path / "nothing-here")
    assert [r.status for r in results] == [seeds.NOT_YET_RUN] * len(seeds.CLAIMS)


# ---------------------------------------------------------------- 001: magnet, k clusters per class


@pytest.mark.parametrize("separation, k, status, words", [
    (10.0, 2, seeds.REPRODUCED, "every class keeps all of them"),
    (0.3, 2, seeds.NOT_REPRODUCED, "every class keeps all of them"),  # clusters, but classes not apart
    (10.0, 3, seeds.NOT_REPRODUCED, "a class keeps only 2"),  # asked for 3 clusters a class, has 2
])
def test_magnet_separates_classes_with_k_clusters(tmp_path, separation, k, status, words):
    path = run(tmp_path, "seed001-magnet", separation=separation, loss="magnet", magnet_k=k, magnet_l=4)
    add_magnet_clusters(path, 2, per_class=2)
    result = check(tmp_path, "001-magnet")
    assert result.status == status, result.evidence
    figures = seeds.magnet_figures(str(path))
    assert figures["per_class"] == [2, 2] and figures["k"] == k
    assert f"magnet accuracy {figures['magnet_accuracy']:.3f}" in result.evidence and words in result.evidence
    assert (figures["magnet_accuracy"] >= 0.9) == (separation > 1)


def test_the_alpha_1_5_magnet_run_also_counts(tmp_path):
    path = run(tmp_path, "seed001-magnet-alpha1.5", separation=10.0, loss="magnet", magnet_k=2)
    add_magnet_clusters(path, 2, per_class=2)
    result = check(tmp_path, "001-magnet")
    assert result.status == seeds.REPRODUCED and result.runs["seed001-magnet-alpha1.5"] == [path.name]


# ---------------------------------------------------------------- 003: SVM beats k-means


def stripes(frame):
    """Two long parallel stripes: k-means cuts them across, an SVM separates them."""
    rng = np.random.default_rng(0)
    labels = frame["label"].to_numpy()
    frame["e0"] = rng.uniform(-10, 10, len(frame)).astype(frame["e0"].dtype)
    frame["e1"] = (np.where(labels == 0, -3.0, 3.0) + rng.normal(scale=0.3, size=len(frame))).astype(frame["e1"].dtype)
    return frame


@pytest.mark.parametrize("shape, status", [(stripes, seeds.REPRODUCED), (None, seeds.NOT_REPRODUCED)])
def test_svm_beats_kmeans(tmp_path, shape, status):
    path = run(tmp_path, "seed003-folder-triplet64", separation=10.0)
    if shape:
        edit_snapshot(path, shape)
    result = check(tmp_path, "003-svm")
    assert result.status == status, result.evidence
    found = seeds.svm_and_kmeans(str(path))
    assert f"SVM {found['svm']:.3f} vs k-means (majority mapping) {found['kmeans_majority']:.3f}" in result.evidence
    if shape:
        assert found["svm"] > 0.9 and found["kmeans_majority"] < 0.8
    else:
        assert found["svm"] == found["kmeans_majority"] == 1.0  # both perfect: SVM does not beat it


# ---------------------------------------------------------------- 004: triplet > contrastive > BCE


@pytest.mark.parametrize("separations, status", [({"triplet": 10.0, "contrastive": 2.5, "bce": 0.8}, seeds.REPRODUCED),
                                                 ({"triplet": 2.5, "contrastive": 10.0, "bce": 0.8}, seeds.NOT_REPRODUCED)])
def test_triplet_separates_pairs_better_than_contrastive_better_than_bce(tmp_path, separations, status):
    for i, (loss, separation) in enumerate(separations.items()):
        run(tmp_path, f"seed004-{loss}", i, separation=separation, n_classes=3)
    result = check(tmp_path, "004-losses")
    assert result.status == status, result.evidence
    from explorer.sweeps import verification_auc

    auc = {loss: verification_auc(str(next(tmp_path.glob(f"*seed004-{loss}*")))) for loss in separations}
    assert (f"triplet {auc['triplet']:.3f}, contrastive {auc['contrastive']:.3f}, BCE {auc['bce']:.3f}"
            in result.evidence)


def test_the_losses_claim_needs_all_three(tmp_path):
    run(tmp_path, "seed004-triplet", 0, separation=10.0)
    run(tmp_path, "seed004-bce", 1, separation=1.0)
    result = check(tmp_path, "004-losses")
    assert result.status == seeds.NOT_YET_RUN and result.missing == ["seed004-contrastive"]


# ---------------------------------------------------------------- 004: embedding sizes 2 and 4 worse than 32


def sizes(root, accuracy: dict[int, list[float]]):
    i = 0
    for dim, values in accuracy.items():
        for value in values:
            set_accuracy(run(root, "seed004-embedding-size", i, embedding_dim=dim), value)
            i += 1


@pytest.mark.parametrize("accuracy, status", [
    ({2: [0.6], 4: [0.75], 8: [0.85], 32: [0.9], 128: [0.91]}, seeds.REPRODUCED),
    ({2: [0.89], 4: [0.9], 32: [0.9]}, seeds.NOT_REPRODUCED),  # not clearly: less than 0.02 apart
    ({2: [0.6, 0.62], 4: [0.7, 0.95], 32: [0.9, 0.91]}, seeds.NOT_REPRODUCED),  # 4-D within the seeds' spread
    ({2: [0.6, 0.62], 4: [0.7, 0.72], 32: [0.9, 0.91]}, seeds.REPRODUCED),
    ({2: [0.6], 32: [0.9]}, seeds.NOT_YET_RUN),
])
def test_embedding_sizes_2_and_4_are_clearly_worse_than_32(tmp_path, accuracy, status):
    sizes(tmp_path, accuracy)
    result = check(tmp_path, "004-size")
    assert result.status == status, result.evidence
    if status == seeds.NOT_YET_RUN:
        assert "embedding size 4" in result.evidence and result.missing == ["seed004-embedding-size"]
        assert seeds.commands(result.claim, result.missing) == [
            "python -m training sweep --preset seed004-embedding-size --seeds 0 1 2"]
    else:
        assert f"2-D {np.mean(accuracy[2]):.3f}" in result.evidence and f"32-D {np.mean(accuracy[32]):.3f}" in result.evidence
        assert ("are both clearly worse" in result.evidence) == (status == seeds.REPRODUCED)


# ---------------------------------------------------------------- which runs belong to a preset


def test_runs_belong_to_their_recorded_preset_else_to_the_presets_their_options_fit(tmp_path):
    recorded = run(tmp_path, "seed000-inlab", 0, **{**SEED000, "dataset": "fake"})
    by_options = run(tmp_path, None, 1, **{**SEED000, "regime": "nn-other"})
    other_classes = run(tmp_path, None, 2, **{**SEED000, "classes": ["3", "8"], "regime": "nn-other"})
    augmented = run(tmp_path, None, 3, **SEED000, regime="random", train_shifts=[-3, 3])
    fashion = run(tmp_path, None, 4, dataset="fashion-mnist", loss="triplet", embedding_dim=32, normalize=True)
    found = seeds.match_runs(tmp_path).set_index("name")
    assert found.loc[recorded.name, "presets"] == ("seed000-inlab",) and found.loc[recorded.name, "how"] == "recorded"
    assert found.loc[by_options.name, "presets"] == ("seed000-outlab-regime1",)
    assert found.loc[by_options.name, "how"] == "by options"
    assert other_classes.name not in found.index
    assert found.loc[augmented.name, "presets"] == ("seed000-augmented",)
    assert found.loc[fashion.name, "presets"] == ("seed004-triplet", "seed004-embedding-size")
    assert [c.id for c in seeds.claims_of_run({"preset": "seed000-inlab"})] == ["000-shifts", "000-augmented"]
    assert [c.id for c in seeds.claims_of_run({"preset": "seed001-magnet-alpha1.5", "loss": "magnet",
                                               "alpha": 1.5})] == ["001-magnet"]


def test_a_run_that_overrode_its_presets_experiment_is_matched_by_its_options(tmp_path):
    """A sweep over regimes started from seed000-outlab-regime1 records that preset in every run;
    its nn-non-neighbour runs are regime 2's."""
    one = run(tmp_path, "seed000-outlab-regime1", 0)
    two = make_preset_run(tmp_path, "20260301-000001-swept", "seed000-outlab-regime1", seed=1,
                          **{**SEED000, "regime": "nn-non-neighbour"})
    other_data = make_preset_run(tmp_path, "20260301-000002-swept", "seed000-outlab-regime1", seed=2,
                                 **{**SEED000, "dataset": "fashion-mnist", "regime": "nn-non-neighbour"})
    found = seeds.match_runs(tmp_path).set_index("name")
    assert found.loc[one.name, "presets"] == ("seed000-outlab-regime1",) and found.loc[one.name, "how"] == "recorded"
    assert found.loc[two.name, "presets"] == ("seed000-outlab-regime2",) and found.loc[two.name, "how"] == "by options"
    assert other_data.name not in found.index
    assert check(tmp_path, "000-spread").runs == {"seed000-outlab-regime1": [one.name],
                                                  "seed000-outlab-regime2": [two.name]}
    assert seeds.claims_of_run({"dataset": "fake"}) == []


def test_an_unreadable_run_is_left_out(tmp_path):
    run(tmp_path, "seed000-inlab")
    broken = tmp_path / "20260301-000099-broken"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json")
    assert list(seeds.match_runs(tmp_path)["presets"]) == [("seed000-inlab",)]


# ---------------------------------------------------------------- the table and the command line


def test_python_m_explorer_seeds_prints_the_table(tmp_path, capsys):
    place_shifted(run(tmp_path, "seed000-inlab", separation=8.0), {3: 0.0, 6: 12.0})
    assert main(["seeds", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "1 reproduced, 0 not reproduced, 6 not yet run" in out
    assert "000  Shifted ±6 px copies are confused more than ±3 px ones.\n     REPRODUCED: k-NN accuracy at ±6 px" in out
    assert f"to run: python -m training train --preset seed000-augmented --runs-dir {tmp_path}" in out
    assert f"python -m training sweep --preset seed004-embedding-size --seeds 0 1 2 --runs-dir {tmp_path}" in out
    assert main(["seeds", str(tmp_path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [c.id for c in seeds.CLAIMS]
    assert rows[1]["status"] == "reproduced" and rows[1]["runs"] == {"seed000-inlab": [next(tmp_path.iterdir()).name]}
    table = seeds.claims_table(seeds.check_claims(tmp_path))
    assert list(table.columns) == ["seed", "claim", "status", "evidence", "runs"] and len(table) == 7


def test_python_m_explorer_seeds_refuses_a_missing_folder(tmp_path, capsys):
    assert main(["seeds", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "does not exist" in err and err.count("\n") == 1
    (tmp_path / "file").write_text("x")
    assert main(["seeds", str(tmp_path / "file")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_the_report_lists_the_claims_its_run_takes_part_in(tmp_path):
    from explorer.report import _seeds_section
    from explorer.runs import load_run

    inlab = run(tmp_path, "seed000-inlab", separation=8.0)
    place_shifted(inlab, {3: 0.0, 6: 12.0})
    out = []
    _seeds_section(load_run(inlab), out)
    text = "\n".join(out)
    assert "Shifted ±6 px copies are confused more than ±3 px ones." in text and "Training with shifts" in text
    assert "<td>reproduced</td>" in text and "<td>not yet run</td>" in text
    assert f"python -m training train --preset seed000-augmented --runs-dir {tmp_path}" in text
    assert "Regime 2" not in text  # a claim this run takes no part in
    out = []
    _seeds_section(load_run(run(tmp_path, None, 1)), out)
    assert "matches no seed preset" in out[0] and f"python -m explorer seeds {tmp_path}" in out[0]
