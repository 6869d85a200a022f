"""The seed documents' claims, checked on the user's own runs.

Each claim names the presets whose runs it needs and a check over the finished runs found for
them. A claim is ``reproduced``, ``not reproduced`` or ``not yet run`` (some preset it needs has no
finished run), with the measured evidence in words, e.g. "k-NN accuracy at ±6 px 0.61 vs ±3 px
0.83 over 2 runs".

Which runs belong to a preset (``presets_of``): a run whose config.json records ``preset`` belongs
to that preset alone, as long as it kept the options that make the preset's experiment
(KEY_OPTIONS: the regime, loss, embedding size, α or training shifts; a sweep over regimes started
from one preset overrides its regime). A run without a preset (trained before presets, or from
explicit options), or one that overrode them, belongs to every preset whose options it fits
(PRESET_OPTIONS, in words in ``MATCH_RULES``): the data set, the classes for seed 000, the loss,
and the options that make the experiment (regime, embedding size, L2 normalisation, training
shifts).

When a side of a comparison has two or more finished runs (seeds), the claimed direction must
also exceed the spread between seeds (|Δ mean| larger than the pooled standard deviation, as in
``explorer.sweeps``); with one run a side the direction alone decides, and the evidence says the
spread is unknown.

Cheap on purpose: figures come from metrics.csv and one snapshot per run (cluster sizes, a k-NN,
an SVM and k-means on the last epoch), remembered per run and file modification time
(``explorer.sweeps.remembered``). Nothing here needs torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from explorer.sweeps import compare_values, final_metrics, remembered, verification_auc
import runfmt as rundir
from training.config import TrainConfig
from training.options import default_of

REPRODUCED, NOT_REPRODUCED, NOT_YET_RUN = "reproduced", "not reproduced", "not yet run"
STATUSES = (REPRODUCED, NOT_REPRODUCED, NOT_YET_RUN)

SEEDS = {
    "000": "Lab report: clustering images using metric learning (in-lab and out-lab)",
    "001": "Slides: metric learning with adaptive density distribution (magnet loss)",
    "002": "Course notes: representation learning (Siamese and autoencoder)",
    "003": "Exercise report: Siamese networks and zero-shot learning (plankton images)",
    "004": "Lecture slides: comparing things with deep neural networks",
}

MAGNET_ACCURACY = 0.9  # "separates the classes": magnet (or 5-NN) test accuracy at least this
CLEARLY = 0.02         # "clearly worse": at least this much lower accuracy (and beyond the seeds' spread)


# ---------------------------------------------------------------- which runs are a preset's


def _classes(config: dict) -> set[str]:
    return {str(c) for c in (config.get("classes") or config.get("class_names") or [])}


def _common(config: dict, dataset: str, loss: str) -> bool:
    return config.get("dataset") == dataset and config.get("loss") == loss


def _seed000(config: dict, regime: str, shifted: bool) -> bool:
    return (_common(config, "mnist", "contrastive") and _classes(config) == {"4", "9"}
            and config.get("regime", "random") == regime and int(config.get("embedding_dim") or 0) == 2
            and bool(config.get("train_shifts")) == shifted)


def _seed004(config: dict, loss: str) -> bool:
    return (_common(config, "fashion-mnist", loss) and int(config.get("embedding_dim") or 0) == 32
            and bool(config.get("normalize")))


PRESET_OPTIONS: dict[str, Callable[[dict], bool]] = {
    "seed000-inlab": lambda c: _seed000(c, "random", False),
    "seed000-outlab-regime1": lambda c: _seed000(c, "nn-other", False),
    "seed000-outlab-regime2": lambda c: _seed000(c, "nn-non-neighbour", False),
    "seed000-augmented": lambda c: _seed000(c, "random", True),
    "seed001-magnet": lambda c: _common(c, "mnist", "magnet") and float(c.get("alpha", 1.0)) == 1.0,
    "seed001-magnet-alpha1.5": lambda c: _common(c, "mnist", "magnet") and float(c.get("alpha", 1.0)) == 1.5,
    "seed003-folder-triplet64": lambda c: _common(c, "folder", "triplet") and int(c.get("embedding_dim") or 0) == 64,
    "seed004-bce": lambda c: _seed004(c, "bce"),
    "seed004-contrastive": lambda c: _seed004(c, "contrastive"),
    "seed004-triplet": lambda c: _seed004(c, "triplet"),
    "seed004-embedding-size": lambda c: _common(c, "fashion-mnist", "triplet"),
}
# The options that make each preset's experiment. A run that records a preset but overrode one of
# these (a sweep over regimes started from seed000-outlab-regime1) is matched by its options instead.
KEY_OPTIONS: dict[str, dict] = {
    "seed000-inlab": {"regime": "random", "train_shifts": False},
    "seed000-outlab-regime1": {"regime": "nn-other", "train_shifts": False},
    "seed000-outlab-regime2": {"regime": "nn-non-neighbour", "train_shifts": False},
    "seed000-augmented": {"train_shifts": True},
    "seed001-magnet": {"loss": "magnet", "alpha": 1.0},
    "seed001-magnet-alpha1.5": {"loss": "magnet", "alpha": 1.5},
    "seed003-folder-triplet64": {"loss": "triplet", "embedding_dim": 64},
    "seed004-bce": {"loss": "bce", "embedding_dim": 32},
    "seed004-contrastive": {"loss": "contrastive", "embedding_dim": 32},
    "seed004-triplet": {"loss": "triplet", "embedding_dim": 32},
    "seed004-embedding-size": {"loss": "triplet"},
}
DEFAULTS = {key: default_of(TrainConfig, key) for options in KEY_OPTIONS.values() for key in options}  # declared ones


def keeps_preset(config: dict, preset: str) -> bool:
    """Whether a run's options still make ``preset``'s experiment (KEY_OPTIONS); True for a
    preset this module does not know."""
    for key, wanted in KEY_OPTIONS.get(preset, {}).items():
        value = config.get(key, DEFAULTS.get(key))
        if isinstance(wanted, bool):
            if bool(value) != wanted:
                return False
        elif isinstance(wanted, float):
            try:
                if float(value) != wanted:
                    return False
            except (TypeError, ValueError):
                return False
        elif value != wanted:
            return False
    return True


MATCH_RULES = {
    "seed000-inlab": "mnist, classes 4 and 9, contrastive, regime random, 2-D, no training shifts",
    "seed000-outlab-regime1": "mnist, classes 4 and 9, contrastive, regime nn-other, 2-D, no training shifts",
    "seed000-outlab-regime2": "mnist, classes 4 and 9, contrastive, regime nn-non-neighbour, 2-D, no training shifts",
    "seed000-augmented": "mnist, classes 4 and 9, contrastive, regime random, 2-D, with training shifts",
    "seed001-magnet": "mnist, magnet loss, α 1",
    "seed001-magnet-alpha1.5": "mnist, magnet loss, α 1.5",
    "seed003-folder-triplet64": "folder data, triplet loss, 64-D",
    "seed004-bce": "fashion-mnist, bce, 32-D, L2-normalised",
    "seed004-contrastive": "fashion-mnist, contrastive, 32-D, L2-normalised",
    "seed004-triplet": "fashion-mnist, triplet, 32-D, L2-normalised",
    "seed004-embedding-size": "fashion-mnist, triplet, any embedding size",
}


def match_runs(runs_dir: str | os.PathLike) -> pd.DataFrame:
    """One row per run directory under ``runs_dir`` that belongs to some preset: name, path,
    state, presets (a tuple), how ("recorded" or "by options"). Unreadable runs are left out."""
    rows = []
    for path in rundir.list_run_dirs(runs_dir):
        try:
            config = rundir.read_config(path)
            state = rundir.read_status(path)["state"]
        except (rundir.RunDirError, OSError):
            continue
        presets, how = presets_of(config)
        if presets:
            rows.append({"name": path.name, "path": str(path), "state": state, "presets": presets, "how": how,
                         "embedding_dim": config.get("embedding_dim"), "seed": config.get("seed")})
    return pd.DataFrame(rows, columns=["name", "path", "state", "presets", "how", "embedding_dim", "seed"])


def presets_of(config: dict) -> tuple[tuple[str, ...], str]:
    """(the presets a run with this config belongs to, "recorded" or "by options"): its recorded
    preset while its options keep that preset's experiment, else every preset its options fit."""
    recorded = config.get("preset")
    if isinstance(recorded, str) and recorded and keeps_preset(config, recorded):
        return (recorded,), "recorded"
    return tuple(name for name, fits in PRESET_OPTIONS.items() if _fits(fits, config)), "by options"


def _fits(rule, config: dict) -> bool:
    try:
        return bool(rule(config))
    except (TypeError, ValueError):  # an option of an odd type matches nothing
        return False


def runs_of(found: pd.DataFrame, preset: str, state: str | None = rundir.FINISHED) -> pd.DataFrame:
    """The rows of ``match_runs`` that belong to ``preset`` (and are in ``state``; None: any)."""
    mask = found["presets"].map(lambda p: preset in p) if len(found) else pd.Series([], dtype=bool)
    rows = found[mask.astype(bool)] if len(found) else found
    return rows if state is None else rows[rows["state"] == state]


# ---------------------------------------------------------------- measurements, remembered per run


def _open(path):
    from explorer.runs import load_run

    return load_run(path)


def cluster_size(path) -> float:
    """Mean cluster size of the test split at the last epoch: the mean over classes of the mean
    distance of a class's points to their centroid (explorer.geometry)."""
    def compute():
        from explorer.geometry import cluster_summary

        run = _open(path)
        X, y = run.embeddings(run.last_epoch, "test")
        return cluster_summary(X, y, run.n_classes)["mean_cluster_size"]

    return remembered(path, "cluster-size", compute)


def shift_accuracies(path) -> dict[int, float]:
    """5-NN accuracy (fitted on the train embeddings) of the shifted test copies per shift in px,
    at the last epoch (explorer.shifts); {} without a shifted set."""
    def compute():
        from explorer.shifts import accuracy_by_shift, run_shift_table

        run = _open(path)
        if "shifted" not in run.splits:
            return {}
        table = accuracy_by_shift(run_shift_table(run, run.last_epoch), include_unshifted=False)
        return {int(s): float(a) for s, a in zip(table["shift"], table["accuracy"])}

    return remembered(path, "shift-accuracies", compute)


def svm_and_kmeans(path) -> dict[str, float]:
    """Test accuracy of the SVM (polynomial, degree 3) and of k-means with seed 003's majority
    mapping, both fitted on the train embeddings of the last epoch (explorer.classifiers)."""
    def compute():
        from explorer.classifiers import classify

        run = _open(path)
        found = classify(run, run.last_epoch, classifiers=("svm", "kmeans_majority"), by_shift=False)
        return {e.classifier: e.accuracy for e in found if e.subset == "test"}

    return remembered(path, "svm-kmeans", compute)


def magnet_figures(path) -> dict:
    """magnet_accuracy (softmax over the L closest centres), k (clusters per class asked for)
    and per_class (non-empty clusters of each class among the training points), last epoch."""
    def compute():
        from explorer import magnet

        run = _open(path)
        k = int(run.config.get("magnet_k") or 0)
        centres = magnet.centres_frame(run)
        if centres is None:
            return {"magnet_accuracy": None, "k": k, "per_class": None}
        used = centres[centres["size"] > 0].groupby("label").size()
        per_class = [int(used.get(c, 0)) for c in range(run.n_classes)]
        return {"magnet_accuracy": magnet.magnet_summary(run)["magnet_accuracy"], "k": k, "per_class": per_class}

    return remembered(path, "magnet", compute)


def knn_accuracy(path) -> float | None:
    """The last test 5-NN accuracy in metrics.csv."""
    return final_metrics(path)["test_knn_accuracy"]


# ---------------------------------------------------------------- claims


@dataclass(frozen=True)
class Claim:
    id: str
    seed: str
    statement: str
    presets: tuple[str, ...]           # the presets whose runs it compares
    rule: str                          # how it is checked, in words
    check: Callable[[pd.DataFrame], tuple[str, str]] = field(repr=False, compare=False)
    sweep: str | None = None           # a preset that is run as a sweep over its own values
    any_of: bool = False               # a run of any one of the presets is enough (else: of each)


@dataclass
class Result:
    claim: Claim
    status: str
    evidence: str
    runs: dict[str, list[str]]          # preset -> names of the finished runs used
    unfinished: dict[str, list[str]]    # preset -> names of runs still running (or stopped)
    missing: list[str]                  # presets with no finished run

    def as_dict(self) -> dict:
        return {"id": self.claim.id, "seed": self.claim.seed, "claim": self.claim.statement,
                "status": self.status, "evidence": self.evidence, "presets": list(self.claim.presets),
                "rule": self.claim.rule, "runs": self.runs, "unfinished": self.unfinished,
                "missing": self.missing}


def _values(runs: pd.DataFrame, measure) -> list[float]:
    found = [measure(p) for p in runs["path"]]
    return [float(v) for v in found if v is not None and np.isfinite(v)]


def _n(count: int) -> str:
    return f"{count} run{'s' if count != 1 else ''}"


def _direction(low: list[float], high: list[float]) -> tuple[bool, str]:
    """Is ``high`` above ``low``, beyond the spread between seeds where it can be measured?
    (holds, a phrase about the spread)."""
    found = compare_values(low, high)
    above = found["delta"] > 0
    if found["exceeds"] is None:
        return above, "fewer than two runs a side: the spread between seeds is unknown"
    spread = f"pooled std over seeds {found['pooled_std']:.3f}"
    if above and found["exceeds"]:
        return True, f"the difference exceeds the spread between seeds ({spread})"
    if above:
        return False, f"the difference lies within the spread between seeds ({spread})"
    return False, spread


def _runs_phrase(*counts: int) -> str:
    if len(set(counts)) == 1:
        return f"over {_n(counts[0])}" + (" each" if len(counts) > 1 else "")
    return "over " + " and ".join(str(c) for c in counts) + " runs"


def _check_spread(found: pd.DataFrame) -> tuple[str, str]:
    one = _values(runs_of(found, "seed000-outlab-regime1"), cluster_size)
    two = _values(runs_of(found, "seed000-outlab-regime2"), cluster_size)
    holds, spread = _direction(one, two)
    evidence = (f"mean cluster size (test, last epoch) {np.mean(two):.3f} under regime 2 vs {np.mean(one):.3f} "
                f"under regime 1, {_runs_phrase(len(two), len(one))}; {spread}")
    return (REPRODUCED if holds else NOT_REPRODUCED), evidence


def _at(accuracies: dict[int, float], size: int) -> float | None:
    found = [a for s, a in accuracies.items() if abs(s) == size]
    return float(np.mean(found)) if found else None


def _check_shift_confusion(found: pd.DataFrame) -> tuple[str, str]:
    runs = runs_of(found, "seed000-inlab")
    by_run = [shift_accuracies(p) for p in runs["path"]]
    six = [v for v in (_at(a, 6) for a in by_run) if v is not None]
    three = [v for v in (_at(a, 3) for a in by_run) if v is not None]
    if not six or not three:
        return NOT_REPRODUCED, "the runs have no shifted test copies at ±3 and ±6 px (their --shifts differ)"
    holds, spread = _direction(six, three)
    evidence = (f"k-NN accuracy at ±6 px {np.mean(six):.2f} vs ±3 px {np.mean(three):.2f} "
                f"{_runs_phrase(len(six))}; {spread}")
    return (REPRODUCED if holds else NOT_REPRODUCED), evidence


def _check_augmentation(found: pd.DataFrame) -> tuple[str, str]:
    plain = [shift_accuracies(p) for p in runs_of(found, "seed000-inlab")["path"]]
    augmented = [shift_accuracies(p) for p in runs_of(found, "seed000-augmented")["path"]]
    six_plain = [v for v in (_at(a, 6) for a in plain) if v is not None]
    six_aug = [v for v in (_at(a, 6) for a in augmented) if v is not None]
    if not six_plain or not six_aug:
        return NOT_REPRODUCED, "the runs have no shifted test copies at ±6 px (their --shifts differ)"
    holds, spread = _direction(six_plain, six_aug)
    every = [np.mean(list(a.values())) for a in augmented if a], [np.mean(list(a.values())) for a in plain if a]
    evidence = (f"k-NN accuracy at ±6 px {np.mean(six_aug):.2f} with training shifts vs {np.mean(six_plain):.2f} "
                f"without (all shifts: {np.mean(every[0]):.2f} vs {np.mean(every[1]):.2f}), "
                f"{_runs_phrase(len(six_aug), len(six_plain))}; {spread}")
    return (REPRODUCED if holds else NOT_REPRODUCED), evidence


def _check_magnet(found: pd.DataFrame) -> tuple[str, str]:
    runs = pd.concat([runs_of(found, "seed001-magnet"), runs_of(found, "seed001-magnet-alpha1.5")])
    runs = runs.drop_duplicates("path")
    figures = [magnet_figures(p) for p in runs["path"]]
    knn = [knn_accuracy(p) for p in runs["path"]]
    accuracies = [f["magnet_accuracy"] if f["magnet_accuracy"] is not None else k for f, k in zip(figures, knn)]
    if any(a is None for a in accuracies):
        return NOT_REPRODUCED, "a run has neither a magnet accuracy nor a test k-NN accuracy"
    stored = [f for f in figures if f["per_class"] is not None]
    clustered = [f in stored and f["k"] > 0 and all(n == f["k"] for n in f["per_class"]) for f in figures]
    good = [a >= MAGNET_ACCURACY for a in accuracies]
    known = [k for k in knn if k is not None]
    words = f"magnet accuracy {np.mean(accuracies):.3f} (bar {MAGNET_ACCURACY}; lowest run {min(accuracies):.3f})"
    if known:
        words += f", test 5-NN {np.mean(known):.3f}"
    if not stored:
        words += "; no clusters stored with the last snapshot"
    else:
        ks = ", ".join(str(k) for k in sorted({f["k"] for f in figures}))
        fewest = min(min(f["per_class"]) for f in stored)
        words += (f"; k = {ks} clusters per class asked, "
                  + ("every class keeps all of them with training points" if all(clustered)
                     else f"a class keeps only {fewest} with training points"))
    words += f", {_runs_phrase(len(runs))}"
    return (REPRODUCED if all(good) and all(clustered) else NOT_REPRODUCED), words


def _check_svm(found: pd.DataFrame) -> tuple[str, str]:
    runs = runs_of(found, "seed003-folder-triplet64")
    figures = [svm_and_kmeans(p) for p in runs["path"]]
    svm = [f["svm"] for f in figures if "svm" in f]
    kmeans = [f["kmeans_majority"] for f in figures if "kmeans_majority" in f]
    holds, spread = _direction(kmeans, svm)
    evidence = (f"test accuracy: SVM {np.mean(svm):.3f} vs k-means (majority mapping) {np.mean(kmeans):.3f} "
                f"{_runs_phrase(len(svm))} (seed 003: 0.75 vs 0.63); {spread}")
    return (REPRODUCED if holds else NOT_REPRODUCED), evidence


def _check_losses(found: pd.DataFrame) -> tuple[str, str]:
    auc = {loss: _values(runs_of(found, f"seed004-{loss}"), verification_auc) for loss in ("triplet", "contrastive", "bce")}
    if not all(auc.values()):
        return NOT_REPRODUCED, "a run has no test snapshot to measure its verification AUC"
    first, first_spread = _direction(auc["contrastive"], auc["triplet"])
    second, second_spread = _direction(auc["bce"], auc["contrastive"])
    evidence = (f"verification AUC on fresh test pairs: triplet {np.mean(auc['triplet']):.3f}, contrastive "
                f"{np.mean(auc['contrastive']):.3f}, BCE {np.mean(auc['bce']):.3f}, "
                f"{_runs_phrase(*(len(v) for v in auc.values()))}; triplet vs contrastive: {first_spread}; "
                f"contrastive vs BCE: {second_spread}")
    return (REPRODUCED if first and second else NOT_REPRODUCED), evidence


def _check_embedding_size(found: pd.DataFrame) -> tuple[str, str]:
    runs = runs_of(found, "seed004-embedding-size")
    by_dim: dict[int, list[float]] = {}
    for path, dim in zip(runs["path"], runs["embedding_dim"]):
        value = knn_accuracy(path)
        if value is not None:
            by_dim.setdefault(int(dim), []).append(value)
    missing = [d for d in (2, 4, 32) if d not in by_dim]
    if missing:
        return NOT_YET_RUN, (f"no finished run of embedding size {', '.join(map(str, missing))} yet "
                             f"(sizes measured: {', '.join(map(str, sorted(by_dim))) or 'none'})")
    verdicts, parts = [], []
    for d in (2, 4):
        found_ = compare_values(by_dim[d], by_dim[32])
        clear = found_["delta"] >= CLEARLY and (found_["exceeds"] is None or found_["exceeds"])
        verdicts.append(clear)
        where = ("one run a side: the spread between seeds is unknown" if found_["exceeds"] is None else
                 f"{'beyond' if found_['exceeds'] else 'within'} the spread between seeds, pooled std "
                 f"{found_['pooled_std']:.3f}")
        parts.append(f"{d}-D is {found_['delta']:.3f} below 32-D ({where})" if found_["delta"] >= 0 else
                     f"{d}-D is {-found_['delta']:.3f} above 32-D")
    sizes = ", ".join(f"{d}-D {_mean_words(v)}" for d, v in sorted(by_dim.items()))
    evidence = (f"test 5-NN accuracy {sizes}; {'; '.join(parts)}; "
                f"2-D and 4-D are {'both' if all(verdicts) else 'not both'} clearly worse (by at least {CLEARLY})")
    return (REPRODUCED if all(verdicts) else NOT_REPRODUCED), evidence


def _mean_words(values: list[float]) -> str:
    """0.870 ± 0.010 (3 runs), or 0.870 (1 run)."""
    if len(values) < 2:
        return f"{np.mean(values):.3f} (1 run)"
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f} ({len(values)} runs)"


CLAIMS: tuple[Claim, ...] = (
    Claim("000-spread", "000", "Regime 2 spreads each class more than regime 1.",
          ("seed000-outlab-regime1", "seed000-outlab-regime2"),
          "mean cluster size (mean distance of a class's test points to their centroid, last epoch) "
          "is larger under nn-non-neighbour than under nn-other", _check_spread),
    Claim("000-shifts", "000", "Shifted ±6 px copies are confused more than ±3 px ones.",
          ("seed000-inlab",),
          "5-NN accuracy (fitted on the train embeddings) of the shifted test copies is lower at ±6 px "
          "than at ±3 px", _check_shift_confusion),
    Claim("000-augmented", "000", "Training with shifts reduces that confusion.",
          ("seed000-inlab", "seed000-augmented"),
          "5-NN accuracy of the ±6 px test copies is higher for runs trained with --train-shifts",
          _check_augmentation),
    Claim("001-magnet", "001", "Magnet loss separates the classes with k clusters per class.",
          ("seed001-magnet", "seed001-magnet-alpha1.5"),
          f"every run reaches a magnet accuracy (softmax over the L closest centres; else test 5-NN) of "
          f"at least {MAGNET_ACCURACY}, and every class keeps its k clusters with training points in them",
          _check_magnet, any_of=True),
    Claim("003-svm", "003", "An SVM on the embeddings beats k-means.",
          ("seed003-folder-triplet64",),
          "test accuracy of the SVM (polynomial, degree 3) is above k-means with majority mapping, "
          "both fitted on the train embeddings", _check_svm),
    Claim("004-losses", "004", "Triplet loss separates pairs better than contrastive, and contrastive "
                               "better than BCE.",
          ("seed004-triplet", "seed004-contrastive", "seed004-bce"),
          "verification AUC on fresh class-based test pairs: triplet > contrastive > BCE", _check_losses),
    Claim("004-size", "004", "Embedding sizes 2 and 4 are clearly worse than 32.",
          ("seed004-embedding-size",),
          f"test 5-NN accuracy of 2-D and of 4-D runs is at least {CLEARLY} below that of 32-D runs "
          "(and beyond the spread between seeds where there are several)", _check_embedding_size,
          sweep="seed004-embedding-size"),
)


def commands(claim: Claim, presets: list[str] | None = None, runs_dir: str | os.PathLike | None = None,
             seeds: tuple[int, ...] = (0, 1, 2), sweep: bool = False) -> list[str]:
    """The commands that run what ``claim`` needs (``presets``: only these; default all of its);
    with ``sweep``, each preset as a sweep over ``seeds``."""
    where = f" --runs-dir {runs_dir}" if runs_dir is not None else ""
    seeds_text = " ".join(map(str, seeds))
    out = []
    for preset in presets if presets is not None else claim.presets:
        if preset == claim.sweep or sweep:
            out.append(f"python -m training sweep --preset {preset} --seeds {seeds_text}{where}")
        else:
            out.append(f"python -m training train --preset {preset}{where}")
    return out


def check_claims(runs_dir: str | os.PathLike | None = None, claims=CLAIMS) -> list[Result]:
    """Every claim against the runs under ``runs_dir`` (default: $EXPLORER_RUNS_DIR or runs/).

    A claim with a preset that has no finished run (for an ``any_of`` claim: none of its presets
    has one) is ``not yet run``; so is one whose runs could not be measured, with the reason.
    """
    runs_dir = rundir.default_runs_dir() if runs_dir is None else Path(runs_dir)
    found = match_runs(runs_dir)
    results = []
    for claim in claims:
        used = {p: runs_of(found, p)["name"].tolist() for p in claim.presets}
        unfinished = {}
        for preset in claim.presets:
            rows = runs_of(found, preset, state=None)
            rows = rows[rows["state"] != rundir.FINISHED]
            if len(rows):
                unfinished[preset] = [f"{n} ({s})" for n, s in zip(rows["name"], rows["state"])]
        missing = [p for p, names in used.items() if not names]
        if claim.any_of and len(missing) < len(claim.presets):
            missing = []
        elif claim.any_of:
            missing = list(claim.presets[:1])
        if missing:
            waiting = sum(len(v) for v in unfinished.values())
            evidence = (f"no finished run of {', '.join(missing)} yet"
                        + (f"; {_n(waiting)} still running or stopped early" if waiting else ""))
            results.append(Result(claim, NOT_YET_RUN, evidence, used, unfinished, missing))
            continue
        try:
            status, evidence = claim.check(found)
        except (rundir.RunDirError, ValueError, OSError, KeyError) as e:
            status, evidence = NOT_YET_RUN, f"a run could not be measured: {' '.join(str(e).split())}"
        if status == NOT_YET_RUN and claim.sweep:
            missing = [claim.sweep]
        results.append(Result(claim, status, evidence, used, unfinished, missing))
    return results


def claims_table(results: list[Result]) -> pd.DataFrame:
    """One row per claim: seed, claim, status, evidence, runs (how many were used)."""
    return pd.DataFrame([{"seed": r.claim.seed, "claim": r.claim.statement, "status": r.status,
                          "evidence": r.evidence, "runs": sum(len(v) for v in r.runs.values())}
                         for r in results], columns=["seed", "claim", "status", "evidence", "runs"])


def format_claims(results: list[Result], runs_dir: str | os.PathLike | None = None) -> str:
    """The claims as text for a terminal: one block per claim, with the commands for what is missing."""
    counts = {s: sum(r.status == s for r in results) for s in STATUSES}
    lines = [f"Seed claims checked on the runs in {runs_dir}" if runs_dir is not None else "Seed claims",
             ", ".join(f"{n} {s}" for s, n in counts.items()), ""]
    for r in results:
        lines.append(f"{r.claim.seed}  {r.claim.statement}")
        lines.append(f"     {r.status.upper()}: {r.evidence}")
        lines.append(f"     checked: {r.claim.rule}")
        if r.missing:
            for command in commands(r.claim, r.missing, runs_dir):
                lines.append(f"     to run: {command}")
        lines.append("")
    lines.append("Runs belong to a preset by the preset recorded in their config.json, else by their options; "
                 "see explorer/seeds.py MATCH_RULES.")
    return "\n".join(lines)


def claims_of_run(config: dict) -> list[Claim]:
    """The claims a run with this config takes part in (by its recorded preset, else its options)."""
    presets = set(presets_of(config)[0])
    return [c for c in CLAIMS if presets & set(c.presets)]


CLAIMS_BY_ID = {claim.id: claim for claim in CLAIMS}
