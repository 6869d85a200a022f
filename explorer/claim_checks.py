"""The seed claims: each with its rule in one sentence, the presets (or sweep) that run it, and a
check over the runs that count (explorer.claim_runs), measured by explorer.claim_measures.

A comparison of two presets holds when the claimed side's mean is the larger; with two or more
runs (seeds) a side it must also exceed the spread between seeds (|Δ mean| above the pooled
standard deviation, as in explorer.sweep_stats). A rule on each run holds when every run meets the
bar (and, with two or more, their mean less one standard deviation does). The fewest runs on a
side sets how strong a verdict is: one run a side is "reproduced in 1 run; spread unknown".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from explorer import claim_measures as m
from explorer.claim_runs import one_data_source, runs_for
from explorer.sweep_stats import compare_values

REPRODUCED, NOT_REPRODUCED, NOT_YET_RUN = "reproduced", "not reproduced", "not yet run"
CLEARLY = 0.02  # "clearly": at least this much (and beyond the seeds' spread where it is known)
CLOSE = 0.03    # "close": within this much


@dataclass(frozen=True)
class Claim:
    id: str
    seed: str
    statement: str
    presets: tuple[str, ...]           # the presets whose runs it compares
    rule: str                          # how it is checked, in one sentence
    check: Callable = field(repr=False, compare=False)
    sweep: str | None = None           # a sweep preset that runs it, over ``free``'s option
    free: tuple[str, ...] = ()         # options a counted run may set freely (beyond the seed)


class Context:
    """One claim's runs: ``paths(preset)`` the counted runs; ``measure`` records each run's value."""

    def __init__(self, claim: Claim, runs):
        self.claim = claim
        self.found = {p: runs_for(runs, p, claim.free, claim.presets) for p in claim.presets}
        one_data_source(self.found)
        self.values: dict[str, list[str]] = {p: [] for p in claim.presets}
        self.sides: list[int] = []

    def paths(self, preset: str) -> list[tuple[str, str]]:
        counted = self.found[preset].counted
        return list(zip(counted["name"], counted["path"]))

    def measure(self, preset: str, measure, label: str = "") -> list[float]:
        out = []
        for name, path in self.paths(preset):
            value = measure(path)
            ok = value is not None and np.isfinite(value)
            self.values[preset].append(f"{name}: {label}{f'{value:.3f}' if ok else 'cannot be measured'}")
            if ok:
                out.append(float(value))
        if not out:
            raise ValueError(f"no run of {preset} could be measured")
        return out

    def direction(self, low: list[float], high: list[float]) -> tuple[bool, str]:
        """Is ``high`` above ``low``, beyond the spread between seeds where it is known?"""
        self.sides.append(min(len(low), len(high)))
        found = compare_values(low, high)
        above = found["delta"] > 0
        if found["exceeds"] is None:
            return above, "one run on a side: the spread between seeds is unknown"
        spread = f"pooled std over seeds {found['pooled_std']:.3f}"
        if above and found["exceeds"]:
            return True, f"the difference exceeds the spread between seeds ({spread})"
        return False, (f"the difference lies within the spread between seeds ({spread})" if above else spread)

    def every(self, values: list[float], bar: float) -> tuple[bool, str]:
        """Does every run clear ``bar`` (and their mean less one std, with two or more)?"""
        self.sides.append(len(values))
        if len(values) < 2:
            return values[0] > bar, "one run: the spread between seeds is unknown"
        low = float(np.mean(values) - np.std(values, ddof=1))
        return min(values) > bar and low > bar, f"mean less one std over seeds {low:.3f}"


def _mean(values: list[float]) -> str:
    return f"{np.mean(values):.3f}" + (f" ± {np.std(values, ddof=1):.3f}" if len(values) > 1 else "")


def _verdict(holds: bool) -> str:
    return REPRODUCED if holds else NOT_REPRODUCED


# ---------------------------------------------------------------- generic rules


def higher(low: str, high: str, measure, what: str):
    """``high``'s runs measure more than ``low``'s."""
    def check(ctx: Context):
        a, b = ctx.measure(low, measure), ctx.measure(high, measure)
        holds, spread = ctx.direction(a, b)
        return _verdict(holds), f"{what}: {_mean(b)} ({high}) vs {_mean(a)} ({low}); {spread}"
    return check


def above(preset: str, measure, what: str, bar: float):
    """Every run of ``preset`` measures more than ``bar``."""
    def check(ctx: Context):
        values = ctx.measure(preset, measure)
        holds, spread = ctx.every(values, bar)
        return _verdict(holds), f"{what}: {_mean(values)} (bar {bar:g}); {spread}"
    return check


def close(a: str, b: str, measure, what: str, within: float = CLOSE):
    def check(ctx: Context):
        one, two = ctx.measure(a, measure), ctx.measure(b, measure)
        ctx.sides.append(min(len(one), len(two)))
        delta = abs(np.mean(one) - np.mean(two))
        return _verdict(delta <= within), (f"{what}: {_mean(one)} ({a}) vs {_mean(two)} ({b}), "
                                           f"{delta:.3f} apart (close: within {within:g})")
    return check


# ---------------------------------------------------------------- rules of their own


def _at(accuracies: dict[int, float], size: int) -> float | None:
    found = [a for s, a in accuracies.items() if abs(s) == size]
    return float(np.mean(found)) if found else None


def _shift_values(ctx: Context, preset: str, size: int) -> list[float]:
    return ctx.measure(preset, lambda p: _at(m.shift_accuracies(p), size), f"±{size} px k-NN ")


def check_shift_confusion(ctx: Context):
    six, three = _shift_values(ctx, "seed000-inlab", 6), _shift_values(ctx, "seed000-inlab", 3)
    holds, spread = ctx.direction(six, three)
    return _verdict(holds), f"k-NN accuracy at ±6 px {np.mean(six):.2f} vs ±3 px {np.mean(three):.2f}; {spread}"


def check_augmentation(ctx: Context):
    plain, augmented = _shift_values(ctx, "seed000-inlab", 6), _shift_values(ctx, "seed000-augmented", 6)
    holds, spread = ctx.direction(plain, augmented)
    return _verdict(holds), (f"k-NN accuracy at ±6 px {np.mean(augmented):.2f} with training shifts vs "
                             f"{np.mean(plain):.2f} without; {spread}")


def check_magnet_l(ctx: Context):
    """Accuracy does not fall as L doubles, and the last doubling gains less than the first."""
    curves = [m.magnet_accuracy_by_l(p) for _, p in ctx.paths("seed001-magnet")]
    for (name, _), curve in zip(ctx.paths("seed001-magnet"), curves):
        ctx.values["seed001-magnet"].append(f"{name}: " + (", ".join(f"L {k} {v:.3f}" for k, v in curve.items())
                                                            or "no centres stored"))
    curves = [c for c in curves if len(c) >= 3]
    if not curves:
        raise ValueError("no run stores magnet centres for three values of L")
    ctx.sides.append(len(curves))
    mean = {L: float(np.mean([c[L] for c in curves if L in c])) for L in curves[0]}
    values = list(mean.values())
    rises = all(b >= a - 0.005 for a, b in zip(values, values[1:]))
    levels = values[-1] - values[-2] <= values[1] - values[0]
    words = ", ".join(f"L {k} {v:.3f}" for k, v in mean.items())
    return _verdict(rises and levels), (f"magnet test accuracy {words} (mean over {len(curves)} runs); "
                                        f"{'never falls' if rises else 'falls'} as L doubles, and the last doubling "
                                        f"gains {'no more' if levels else 'more'} than the first")


def check_losses(ctx: Context):
    auc = {loss: ctx.measure(f"seed004-{loss}", m_verification_auc, "AUC ") for loss in ("triplet", "contrastive", "bce")}
    first, first_spread = ctx.direction(auc["contrastive"], auc["triplet"])
    second, second_spread = ctx.direction(auc["bce"], auc["contrastive"])
    return _verdict(first and second), (
        f"verification AUC on fresh test pairs: triplet {np.mean(auc['triplet']):.3f}, contrastive "
        f"{np.mean(auc['contrastive']):.3f}, BCE {np.mean(auc['bce']):.3f}; triplet vs contrastive: {first_spread}; "
        f"contrastive vs BCE: {second_spread}")


def m_verification_auc(path):
    from explorer.sweeps import verification_auc

    return verification_auc(path)


def _by_dim(ctx: Context) -> dict[int, list[float]]:
    preset = "seed004-embedding-size"
    by_dim: dict[int, list[float]] = {}
    for name, path in ctx.paths(preset):
        dim = int(ctx.found[preset].counted.set_index("name").loc[name, "config"].get("embedding_dim"))
        value = m.knn_accuracy(path)
        ctx.values[preset].append(f"{name}: {dim}-D " + (f"{value:.3f}" if value is not None else "not measured"))
        if value is not None:
            by_dim.setdefault(dim, []).append(value)
    return by_dim


class Missing(Exception):
    """A sweep claim lacks some of its grid points: the claim is not yet run."""


def check_embedding_size(ctx: Context):
    by_dim = _by_dim(ctx)
    missing = [d for d in (2, 4, 32) if d not in by_dim]
    if missing:
        raise Missing(f"no finished run of embedding size {', '.join(map(str, missing))} yet (sizes measured: "
                      f"{', '.join(map(str, sorted(by_dim))) or 'none'})")
    verdicts, parts = [], []
    for d in (2, 4):
        found = compare_values(by_dim[d], by_dim[32])
        ctx.sides.append(min(len(by_dim[d]), len(by_dim[32])))
        verdicts.append(found["delta"] >= CLEARLY and (found["exceeds"] is None or found["exceeds"]))
        where = ("one run a side: the spread between seeds is unknown" if found["exceeds"] is None else
                 f"{'beyond' if found['exceeds'] else 'within'} the spread between seeds, pooled std "
                 f"{found['pooled_std']:.3f}")
        parts.append(f"{d}-D is {found['delta']:.3f} below 32-D ({where})" if found["delta"] >= 0 else
                     f"{d}-D is {-found['delta']:.3f} above 32-D")
    sizes = ", ".join(f"{d}-D {_mean(v)}" for d, v in sorted(by_dim.items()))
    return _verdict(all(verdicts)), (f"test 5-NN accuracy {sizes}; {'; '.join(parts)}; 2-D and 4-D are "
                                     f"{'both' if all(verdicts) else 'not both'} clearly worse (by at least {CLEARLY})")


def check_slowing(ctx: Context):
    by_dim = _by_dim(ctx)
    missing = [d for d in (8, 32, 128) if d not in by_dim]
    if missing:
        raise Missing(f"no finished run of embedding size {', '.join(map(str, missing))} yet")
    ctx.sides.append(min(len(by_dim[d]) for d in (8, 32, 128)))
    early = np.mean(by_dim[32]) - np.mean(by_dim[8])
    late = np.mean(by_dim[128]) - np.mean(by_dim[32])
    return _verdict(early > 0 and late < early), (f"test 5-NN accuracy gains {early:+.3f} from 8-D to 32-D and "
                                                  f"{late:+.3f} from 32-D to 128-D")


def check_svm(ctx: Context):
    svm = ctx.measure("seed003-folder-triplet64", lambda p: m.svm_and_kmeans(p).get("svm"), "SVM ")
    kmeans = ctx.measure("seed003-folder-triplet64", lambda p: m.svm_and_kmeans(p).get("kmeans_majority"), "k-means ")
    holds, spread = ctx.direction(kmeans, svm)
    return _verdict(holds), (f"test accuracy: SVM {np.mean(svm):.3f} vs k-means (majority mapping) "
                             f"{np.mean(kmeans):.3f} (seed 003: 0.75 vs 0.63); {spread}")


def check_baselines(ctx: Context):
    siamese = ctx.measure("seed002-contrastive", m.knn_accuracy)
    ae, pca = ctx.measure("seed002-autoencoder", m.knn_accuracy), ctx.measure("seed002-pca", m.knn_accuracy)
    one, one_spread = ctx.direction(ae, siamese)
    two, two_spread = ctx.direction(pca, siamese)
    return _verdict(one and two), (f"test 5-NN accuracy: Siamese {_mean(siamese)}, autoencoder {_mean(ae)}, "
                                   f"PCA {_mean(pca)}; vs the autoencoder: {one_spread}; vs PCA: {two_spread}")


def _claim(id, seed, statement, presets, rule, check, **kw) -> Claim:
    return Claim(id, seed, statement, tuple(presets), rule, check, **kw)


R1, R2 = "seed000-outlab-regime1", "seed000-outlab-regime2"
CLAIMS: tuple[Claim, ...] = (
    _claim("000-spread", "000", "Regime 2 spreads each class more, relative to the distance between classes.",
           (R1, R2), "the mean cluster size over the mean distance between class centroids (test, last epoch) is "
           "larger under nn-non-neighbour than under nn-other", higher(R1, R2, m.relative_spread, "relative spread")),
    _claim("000-smaller-cnn", "000", "The smaller CNN spreads each class more than the lab's CNN.",
           ("seed000-outlab-seed-cnn", R1), "under regime 1, the relative spread (cluster size over centroid "
           "distance, test) is larger with small-cnn than with seed-cnn",
           higher("seed000-outlab-seed-cnn", R1, m.relative_spread, "relative spread")),
    _claim("000-shifts", "000", "Shifted ±6 px copies are confused more than ±3 px ones.", ("seed000-inlab",),
           "5-NN accuracy (fitted on the train embeddings) of the shifted test copies is lower at ±6 px than at ±3 px",
           check_shift_confusion),
    _claim("000-nines", "000", "The ±6 px confusion falls mostly on 9s.", ("seed000-inlab",),
           "more than half of the ±6 px copies that 5-NN gets wrong are 9s",
           above("seed000-inlab", m.share_of_class_in_errors, "share of 9s among the wrong ±6 px copies", 0.5)),
    _claim("000-augmented", "000", "Training with shifts reduces that confusion.",
           ("seed000-inlab", "seed000-augmented"),
           "5-NN accuracy of the ±6 px test copies is higher for runs trained with --train-shifts", check_augmentation),
    _claim("000-idea1", "000", "Idea 1 (triplet loss with neighbour positives) separates the classes better than "
           "the in-lab baseline.", ("seed000-inlab", "seed000-triplet-nn"), "the mean distance between class "
           "centroids over the mean cluster size (test, last epoch) is larger than the in-lab run's",
           higher("seed000-inlab", "seed000-triplet-nn", m.separation, "separation")),
    _claim("000-idea2", "000", "Idea 2 (the three-way loss) separates the classes better than the in-lab baseline.",
           ("seed000-inlab", "seed000-3way"), "the mean distance between class centroids over the mean cluster "
           "size (test, last epoch) is larger than the in-lab run's",
           higher("seed000-inlab", "seed000-3way", m.separation, "separation")),
    _claim("001-loss", "001", "The magnet loss falls with iterations.", ("seed001-magnet",),
           "the training loss of the last epoch is below the first epoch's in every run",
           above("seed001-magnet", m.loss_fall, "fall of the training loss, as a share of the first epoch's", 0.0)),
    _claim("001-alpha", "001", "α 1.5 keeps the clusters further apart than α 1.", ("seed001-magnet",
           "seed001-magnet-alpha1.5"), "the mean distance between class centroids over the mean cluster size "
           "(test) is larger at α 1.5 (α is the desired separation)",
           higher("seed001-magnet", "seed001-magnet-alpha1.5", m.separation, "separation")),
    _claim("001-l", "001", "Accuracy rises with L, then stops gaining.", ("seed001-magnet",),
           "magnet accuracy (softmax over the L closest centres) never falls as L doubles, and the last doubling "
           "gains no more than the first", check_magnet_l),
    _claim("001-magnet", "001", "Magnet loss learns faster than triplet loss (accuracy per epoch).",
           ("seed001-triplet", "seed001-magnet"), "the mean test 5-NN accuracy over the epochs (the area under its "
           "curve) is higher for magnet than for triplet on the same data, size and epochs",
           higher("seed001-triplet", "seed001-magnet", m.knn_per_epoch, "mean test 5-NN accuracy per epoch")),
    _claim("002-transfer", "002", "On a new domain, fine-tuning the whole network beats training only a new head.",
           ("seed002-transfer-frozen", "seed002-transfer-finetuned"), "test 5-NN accuracy of the fine-tuned "
           "ResNet-18 is above the frozen one's",
           higher("seed002-transfer-frozen", "seed002-transfer-finetuned", m.knn_accuracy, "test 5-NN accuracy")),
    _claim("002-baselines", "002", "The Siamese net beats the autoencoder and PCA baselines on k-NN.",
           ("seed002-contrastive", "seed002-autoencoder", "seed002-pca"), "test 5-NN accuracy of the 32-D "
           "Siamese net is above both 32-D baselines'", check_baselines),
    _claim("003-svm", "003", "An SVM on the embeddings beats k-means.", ("seed003-folder-triplet64",),
           "test accuracy of the SVM (polynomial, degree 3) is above k-means with majority mapping, both fitted on "
           "the train embeddings", check_svm),
    _claim("003-plateau", "003", "The validation loss plateaus.", ("seed003-folder-triplet64",),
           "the validation loss falls less than half as much over the second half of the epochs as over the first",
           above("seed003-folder-triplet64", lambda p: None if m.late_fall(p) is None else 0.5 - m.late_fall(p),
                 "0.5 less the second half's fall over the first half's", 0.0)),
    _claim("003-trends", "003", "Centroid distances grow over the epochs while cluster sizes change little.",
           ("seed003-folder-triplet64",), "from the first trained snapshot to the last, the mean centroid "
           "distance grows by a larger share than the mean cluster size changes (test)",
           above("seed003-folder-triplet64", m.geometry_trend, "distance growth less size change", 0.0)),
    _claim("004-losses", "004", "Triplet loss separates pairs better than contrastive, and contrastive better "
           "than BCE.", ("seed004-triplet", "seed004-contrastive", "seed004-bce"),
           "verification AUC on fresh class-based test pairs: triplet > contrastive > BCE", check_losses),
    _claim("004-head", "004", "The BCE head verifies well while its embedding does not.", ("seed004-bce",),
           f"the head's AUC exceeds the embedding distance's AUC on the same test pairs by at least {CLEARLY}",
           above("seed004-bce", m.head_gain, "head AUC less distance AUC", CLEARLY)),
    _claim("004-negatives", "004", "Under triplet loss the negative distances spread wider than the positive "
           "ones.", ("seed004-triplet",), "the std of other-class pair distances exceeds that of same-class pairs "
           "(fresh test pairs)", above("seed004-triplet", m.negative_spread, "negative std over positive std", 1.0)),
    _claim("004-classifier", "004", "A classifier's embedding performs close to the Siamese net's.",
           ("seed004-classifier", "seed004-bce"), f"their test 5-NN accuracies lie within {CLOSE} of each other",
           close("seed004-classifier", "seed004-bce", m.knn_accuracy, "test 5-NN accuracy")),
    _claim("004-size", "004", "Embedding sizes 2 and 4 are clearly worse than 32.", ("seed004-embedding-size",),
           f"test 5-NN accuracy of 2-D and of 4-D runs is at least {CLEARLY} below that of 32-D runs (and beyond "
           "the spread between seeds where there are several)", check_embedding_size,
           sweep="seed004-embedding-size", free=("embedding_dim",)),
    _claim("004-slowing", "004", "Gains slow beyond 32 dimensions.", ("seed004-embedding-size",),
           "test 5-NN accuracy gains less from 32-D to 128-D than from 8-D to 32-D", check_slowing,
           sweep="seed004-embedding-size", free=("embedding_dim",)),
    _claim("004-enrol", "004", "New classes can be enrolled without retraining.", ("seed004-enrol",),
           "with 5 enrolled images per held-out class and the training classes as distractors, rank-1 "
           "identification of the held-out images is above 0.5 (chance: one over the classes)",
           above("seed004-enrol", m.enrolled_rank1, "rank-1 of the enrolled classes", 0.5)),
)
