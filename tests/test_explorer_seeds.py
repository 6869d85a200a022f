"""explorer.seeds: each seed claim is reproduced, not reproduced or not yet run on hand-made runs
whose right answer is known (tests/fakesweep.py), runs belong to presets by their recorded preset
or their options, and ``python -m explorer seeds`` prints the same table."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fakesweep import edit_snapshot, make_preset_run, place_shifted, scale_classes, set_accuracy, set_config

from explorer import seeds
from explorer.cli import main

from training.presets import PRESETS


def check(root, claim_id: str) -> seeds.Result:
    (result,) = seeds.check_claims(root, claims=[seeds.CLAIMS_BY_ID[claim_id]])
    return result


def run(root, preset, i=0, **kwargs):
    """A finished fake run of ``preset``: every option the preset sets in its config.json (the
    preset recorded too), then ``kwargs`` over them."""
    options = {"classes": [], **(PRESETS[preset].options if preset else {}), **kwargs}
    path = make_preset_run(root, f"20260301-0000{i:02d}-{preset}-{i}", preset, seed=0, **options)
    set_config(path, seed=i)  # the same points for every seed: a test moves them as it needs
    return path


SEED000 = {k: v for k, v in PRESETS["seed000-inlab"].options.items()}


# ---------------------------------------------------------------- 000: regime 2 spreads each class more


@pytest.mark.parametrize("factor, status", [(3.0, seeds.REPRODUCED), (0.33, seeds.NOT_REPRODUCED)])
def test_regime_2_spreads_each_class_more(tmp_path, factor, status):
    one = run(tmp_path, "seed000-outlab-regime1")
    two = run(tmp_path, "seed000-outlab-regime2", 1)
    scale_classes(two, factor)
    result = check(tmp_path, "000-spread")
    assert result.status == status, result.evidence
    from explorer.claim_measures import relative_spread

    spread_one, spread_two = relative_spread(str(one)), relative_spread(str(two))
    assert f"relative spread: {spread_two:.3f} (seed000-outlab-regime2) vs {spread_one:.3f}" in result.evidence
    assert "spread between seeds is unknown" in result.evidence
    assert result.verdict == f"{status} in 1 run; spread unknown" and result.weak
    assert result.runs == {"seed000-outlab-regime1": [one.name], "seed000-outlab-regime2": [two.name]}
    assert result.values["seed000-outlab-regime2"] == [f"{two.name}: {spread_two:.3f}"]  # each run with its value


def test_with_several_seeds_the_difference_must_exceed_their_spread(tmp_path):
    for folder, factors in (("within", [1.0, 2.0, 1.1, 2.1]), ("beyond", [1.0, 1.1, 2.0, 2.1])):
        presets = ["seed000-outlab-regime1"] * 2 + ["seed000-outlab-regime2"] * 2
        for i, (preset, factor) in enumerate(zip(presets, factors)):
            scale_classes(run(tmp_path / folder, preset, i), factor)
    within = check(tmp_path / "within", "000-spread")
    assert within.status == seeds.NOT_REPRODUCED  # larger, but well within the seeds' spread
    assert "within the spread between seeds" in within.evidence and within.verdict == "not reproduced over 2 runs a side"
    beyond = check(tmp_path / "beyond", "000-spread")
    assert beyond.status == seeds.REPRODUCED and "exceeds the spread between seeds" in beyond.evidence
    assert len(beyond.values["seed000-outlab-regime1"]) == 2


def test_a_verdict_over_three_seeds_a_side_is_not_weak(tmp_path):
    presets = ["seed000-outlab-regime1"] * 3 + ["seed000-outlab-regime2"] * 3
    for i, (preset, factor) in enumerate(zip(presets, [1.0, 1.05, 1.1, 2.0, 2.05, 2.1])):
        scale_classes(run(tmp_path, preset, i), factor)
    result = check(tmp_path, "000-spread")
    assert result.verdict == "reproduced over 3 seeds a side" and not result.weak


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
    assert f"k-NN accuracy at ±6 px {six:.2f} vs ±3 px {three:.2f}" in result.evidence
    assert result.verdict == f"{status} over 2 runs a side" and len(result.values["seed000-inlab"]) == 4
    assert max(six, three) == 1.0 and min(six, three) < 0.9


@pytest.mark.parametrize("plain, augmented, status", [(12.0, 0.0, seeds.REPRODUCED), (0.0, 12.0, seeds.NOT_REPRODUCED)])
def test_training_with_shifts_reduces_the_confusion(tmp_path, plain, augmented, status):
    place_shifted(run(tmp_path, "seed000-inlab", separation=8.0), {3: 0.0, 6: plain})
    place_shifted(run(tmp_path, "seed000-augmented", 1, separation=8.0, train_shifts=[-6, -3, 3, 6]),
                  {3: 0.0, 6: augmented})
    result = check(tmp_path, "000-augmented")
    assert result.status == status, result.evidence
    assert "with training shifts vs" in result.evidence and result.per_side == 1


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


# ---------------------------------------------------------------- 001: the loss falls; magnet vs triplet


def set_losses(path, losses):
    from training import rundir

    metrics = rundir.read_metrics(path)
    for epoch, value in enumerate(losses, start=1):
        metrics.loc[(metrics["split"] == "train") & (metrics["epoch"] == epoch), "loss"] = value
    rundir.write_metrics(path, metrics.to_dict("records"))


@pytest.mark.parametrize("losses, status", [([1.0, 0.6], seeds.REPRODUCED), ([0.6, 0.9], seeds.NOT_REPRODUCED)])
def test_the_magnet_loss_falls_with_iterations(tmp_path, losses, status):
    path = run(tmp_path, "seed001-magnet")
    set_losses(path, losses)
    result = check(tmp_path, "001-loss")
    assert result.status == status, result.evidence
    fall = (losses[0] - losses[1]) / losses[0]
    assert result.values["seed001-magnet"] == [f"{path.name}: {fall:.3f}"]


@pytest.mark.parametrize("magnet, status", [(0.9, seeds.REPRODUCED), (0.6, seeds.NOT_REPRODUCED)])
def test_magnet_learns_faster_than_triplet_per_epoch(tmp_path, magnet, status):
    set_accuracy(run(tmp_path, "seed001-magnet", 0), magnet)
    set_accuracy(run(tmp_path, "seed001-triplet", 1), 0.8)
    result = check(tmp_path, "001-magnet")
    assert result.status == status, result.evidence
    assert "mean test 5-NN accuracy per epoch" in result.evidence


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
            "python -m training sweep --preset seed004-embedding-size --seeds 0 1 2 --data-dir DATA_DIR"]
    else:
        assert f"2-D {np.mean(accuracy[2]):.3f}" in result.evidence and f"32-D {np.mean(accuracy[32]):.3f}" in result.evidence
        assert ("are both clearly worse" in result.evidence) == (status == seeds.REPRODUCED)


# ---------------------------------------------------------------- which runs count: only the preset's experiment


@pytest.mark.parametrize("claim_id, preset, options, reason", [
    ("000-shifts", "seed000-inlab", {"classes": ["3", "8"], "loss": "triplet"}, "classes 3 8, the preset has 4 9"),
    ("000-shifts", "seed000-inlab", {"backbone": "resnet18"}, "backbone resnet18, the preset has seed-cnn"),
    ("000-shifts", "seed000-inlab", {"embedding_dim": 32}, "embedding dim 32, the preset has 2"),
    ("000-shifts", "seed000-inlab", {"epochs": 2}, "epochs 2, the preset trains 5"),
    ("000-shifts", "seed000-inlab", {"normalize": True}, "normalize yes, the preset has no"),
    ("000-shifts", "seed000-inlab", {"max_train": 300}, "max train 300, the preset has all"),
    ("000-shifts", "seed000-inlab", {"train_shifts": [-3, 3]}, "train shifts -3 3, the preset has none"),
    ("001-loss", "seed001-magnet", {"magnet_k": 1, "classes": ["0", "1"], "epochs": 1},
     "epochs 1, the preset trains 15"),
    ("001-loss", "seed001-magnet", {"epochs": 2}, "epochs 2, the preset trains 15"),
    ("001-alpha", "seed001-magnet", {"alpha": 1.5, "epochs": 2}, "epochs 2, the preset trains 15"),
    ("004-losses", "seed004-triplet", {"dataset": "mnist"}, "dataset mnist, the preset has fashion-mnist"),
    ("004-losses", "seed004-contrastive", {"contrastive_form": "seed000"},
     "contrastive form seed000, the preset has seed004"),
    ("004-losses", "seed004-triplet", {"miner": "batch-hard"}, "miner batch-hard, the preset has none"),
])
def test_a_run_that_is_not_the_presets_experiment_does_not_count(tmp_path, claim_id, preset, options, reason):
    near = run(tmp_path, preset, 0, separation=8.0, **options)
    result = check(tmp_path, claim_id)
    assert result.status == seeds.NOT_YET_RUN, result.evidence
    assert near.name not in sum(result.runs.values(), [])
    assert any(reason in why and why.startswith(f"{near.name}: not counted as {preset}: ") for why in result.near[preset]), result.near


def test_mnist_runs_do_not_decide_a_fashion_mnist_claim(tmp_path):
    for i, loss in enumerate(("triplet", "contrastive", "bce")):
        run(tmp_path, f"seed004-{loss}", i, dataset="mnist", classes=[], n_classes=3)
    result = check(tmp_path, "004-losses")
    assert result.status == seeds.NOT_YET_RUN and result.missing == ["seed004-triplet", "seed004-contrastive",
                                                                     "seed004-bce"]
    assert any("Fashion-MNIST" in line for line in seeds.needs(result.claim))


def test_the_sides_of_a_claim_are_kept_on_the_same_images(tmp_path):
    """MNIST's own files (--data-dir) and the bundled 5,000-image sample are not mixed in a claim:
    where every side has runs on the files, only those count; where the sides share no source,
    none does."""
    on_files = {"data_dir": "/data/mnist"}
    one_files = run(tmp_path / "shared", "seed000-outlab-regime1", 0, **on_files)
    one_sample = run(tmp_path / "shared", "seed000-outlab-regime1", 1)
    two_files = run(tmp_path / "shared", "seed000-outlab-regime2", 2, **on_files)
    scale_classes(two_files, 3.0)
    result = check(tmp_path / "shared", "000-spread")
    assert result.status == seeds.REPRODUCED, result.evidence
    assert result.runs == {"seed000-outlab-regime1": [one_files.name], "seed000-outlab-regime2": [two_files.name]}
    assert result.near["seed000-outlab-regime1"] == [
        f"{one_sample.name}: not counted as seed000-outlab-regime1: it was trained on the bundled 5,000-image "
        "MNIST sample, and this claim's other runs used MNIST's own files: run every side on the same images"]

    run(tmp_path / "apart", "seed000-outlab-regime1", 0)
    scale_classes(run(tmp_path / "apart", "seed000-outlab-regime2", 1, **on_files), 3.0)
    apart = check(tmp_path / "apart", "000-spread")
    assert apart.status == seeds.NOT_YET_RUN and not sum(apart.runs.values(), [])
    assert "another side of this claim has runs on MNIST's own files only" in apart.near["seed000-outlab-regime1"][0]
    assert "on the bundled 5,000-image MNIST sample only" in apart.near["seed000-outlab-regime2"][0]

    # runs on one source, whichever it is, count as before
    run(tmp_path / "sample", "seed000-outlab-regime1", 0)
    scale_classes(run(tmp_path / "sample", "seed000-outlab-regime2", 1), 3.0)
    assert check(tmp_path / "sample", "000-spread").status == seeds.REPRODUCED


def test_runs_of_other_epochs_are_not_mixed_in(tmp_path):
    counted = run(tmp_path, "seed000-inlab", 0, separation=8.0)
    run(tmp_path, "seed000-inlab", 1, separation=8.0, epochs=2)
    place_shifted(counted, {3: 0.0, 6: 12.0})
    result = check(tmp_path, "000-shifts")
    assert result.runs == {"seed000-inlab": [counted.name]} and result.verdict.endswith("in 1 run; spread unknown")


def test_a_run_with_the_same_options_and_seed_counts_once(tmp_path):
    """A run from the form and a sweep's seed-0 run with the same options are one run, not two seeds."""
    form = run(tmp_path, "seed000-outlab-regime1", 0)
    again = make_preset_run(tmp_path, "20260301-000009-sweep-seed_0", "seed000-outlab-regime1", seed=0,
                            **PRESETS["seed000-outlab-regime1"].options)
    run(tmp_path, "seed000-outlab-regime2", 1)
    result = check(tmp_path, "000-spread")
    assert result.runs["seed000-outlab-regime1"] == [form.name]
    assert result.duplicates == [f"{again.name} repeats {form.name} (same options and seed): counted once"]
    assert result.per_side == 1


def test_a_config_without_the_contrastive_form_reads_as_seed_000s(tmp_path):
    from training import rundir

    path = run(tmp_path, "seed000-inlab", 0)
    config = rundir.read_json(path / rundir.CONFIG)
    config.pop("contrastive_form", None)
    rundir.write_json(path / rundir.CONFIG, config)
    assert seeds.presets_of(rundir.read_config(path)) == ("seed000-inlab",)
    set_config(path, contrastive_form="seed004")
    assert seeds.presets_of(rundir.read_config(path)) == ()


def test_a_sweep_claim_frees_only_its_swept_option(tmp_path):
    run(tmp_path, "seed004-embedding-size", 0, embedding_dim=8)
    near = run(tmp_path, "seed004-embedding-size", 1, embedding_dim=8, epochs=2)
    result = check(tmp_path, "004-size")
    assert result.runs["seed004-embedding-size"] != [] and near.name not in result.runs["seed004-embedding-size"]
    assert any("epochs 2" in why for why in result.near["seed004-embedding-size"])


def test_the_claims_of_a_run(tmp_path):
    assert [c.id for c in seeds.claims_of_run(PRESETS["seed000-inlab"].options)] == [
        "000-shifts", "000-nines", "000-augmented", "000-idea1", "000-idea2"]
    assert seeds.claims_of_run({**PRESETS["seed000-inlab"].options, "epochs": 1}) == []
    assert [c.id for c in seeds.claims_of_run({**PRESETS["seed004-embedding-size"].options, "embedding_dim": 8})] \
        == ["004-size", "004-slowing"]


def test_every_claim_has_a_rule_and_presets_that_run_it():
    ids = {c.id for c in seeds.CLAIMS}
    for wanted in ("000-spread", "000-smaller-cnn", "000-nines", "000-idea1", "000-idea2", "001-loss", "001-alpha",
                   "001-l", "001-magnet", "002-transfer", "002-baselines", "003-plateau", "003-trends", "004-head",
                   "004-negatives", "004-classifier", "004-slowing", "004-enrol"):
        assert wanted in ids
    for claim in seeds.CLAIMS:
        assert claim.rule and claim.rule.count(". ") == 0  # one sentence
        assert all(p in PRESETS for p in claim.presets)


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
    assert "000  Shifted ±6 px copies are confused more than ±3 px ones.\n     REPRODUCED IN 1 RUN; SPREAD UNKNOWN: " \
        "k-NN accuracy at ±6 px" in out
    assert f"to run: python -m training train --preset seed000-augmented --runs-dir {tmp_path}" in out
    assert f"python -m training sweep --preset seed004-embedding-size --seeds 0 1 2 --data-dir DATA_DIR --runs-dir {tmp_path}" in out
    assert main(["seeds", str(tmp_path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [c.id for c in seeds.CLAIMS]
    shifts = next(r for r in rows if r["id"] == "000-shifts")
    assert shifts["status"] == "reproduced" and shifts["runs"] == {"seed000-inlab": [next(tmp_path.iterdir()).name]}
    table = seeds.claims_table(seeds.check_claims(tmp_path))
    assert list(table.columns) == ["seed", "claim", "status", "verdict", "rule", "evidence", "runs"]
    assert len(table) == len(seeds.CLAIMS)


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
    assert "<td>reproduced in 1 run; spread unknown</td>" in text and "<td>not yet run</td>" in text
    assert f"python -m training train --preset seed000-augmented --runs-dir {tmp_path}" in text
    assert "Regime 2" not in text  # a claim this run takes no part in
    out = []
    _seeds_section(load_run(run(tmp_path, None, 1)), out)
    assert "matches no seed preset" in out[0] and f"python -m explorer seeds {tmp_path}" in out[0]


# ---------------------------------------------------------------- the other claims' rules


@pytest.mark.parametrize("accuracy, status", [({8: [0.8], 32: [0.9], 128: [0.92]}, seeds.REPRODUCED),
                                              ({8: [0.8], 32: [0.82], 128: [0.9]}, seeds.NOT_REPRODUCED),
                                              ({8: [0.8], 32: [0.9]}, seeds.NOT_YET_RUN)])
def test_gains_slow_beyond_32_dimensions(tmp_path, accuracy, status):
    sizes(tmp_path, accuracy)
    result = check(tmp_path, "004-slowing")
    assert result.status == status, result.evidence


@pytest.mark.parametrize("classifier, status", [(0.89, seeds.REPRODUCED), (0.7, seeds.NOT_REPRODUCED)])
def test_the_classifier_baseline_is_close_to_the_siamese_net(tmp_path, classifier, status):
    set_accuracy(run(tmp_path, "seed004-classifier", 0), classifier)
    set_accuracy(run(tmp_path, "seed004-bce", 1), 0.9)
    result = check(tmp_path, "004-classifier")
    assert result.status == status, result.evidence
    assert f"{abs(classifier - 0.9):.3f} apart" in result.evidence


def test_the_six_pixel_confusion_is_counted_on_the_nines(monkeypatch):
    import pandas as pd

    from explorer import claim_measures

    table = pd.DataFrame({"shift": [-6, 6, 6, 6, 3, -3], "class_name": ["9", "9", "4", "9", "4", "4"],
                          "correct": [False, False, False, True, False, False]})
    monkeypatch.setattr(claim_measures, "shift_table", lambda path: table)
    assert claim_measures.share_of_class_in_errors("any") == pytest.approx(2 / 3)  # ±3 px errors do not count
