import math

import pytest
import torch

from training.losses import ContrastiveLoss, TripletLoss


def contrastive_by_hand(points, pairs, margin):
    total = 0.0
    for i, j, y in pairs:
        d = math.dist(points[i], points[j])
        total += 0.5 * y * d ** 2 + 0.5 * (1 - y) * max(0.0, margin - d) ** 2
    return total / len(pairs)


def triplet_by_hand(points, triplets, margin):
    total = 0.0
    for a, p, n in triplets:
        total += max(math.dist(points[a], points[p]) - math.dist(points[a], points[n]) + margin, 0.0)
    return total / len(triplets)


POINTS = [(0.0, 0.0), (3.0, 4.0), (0.3, 0.4), (1.0, 0.0), (0.0, 2.0), (0.0, 0.0)]


def as_tuple(rows):
    return tuple(torch.tensor(col) for col in zip(*rows))


@pytest.mark.parametrize("margin", [0.5, 1.0, 2.0])
def test_contrastive_matches_a_plain_loop(margin):
    pairs = [(0, 1, 1), (0, 2, 1), (0, 2, 0), (0, 3, 0), (0, 4, 0), (1, 2, 0), (0, 5, 1), (0, 5, 0)]
    x = torch.tensor(POINTS)
    got = ContrastiveLoss(margin)(x, as_tuple(pairs))
    assert got.item() == pytest.approx(contrastive_by_hand(POINTS, pairs, margin), rel=1e-6)


def test_contrastive_margin_edges():
    x = torch.tensor(POINTS)
    loss = ContrastiveLoss(margin=1.0)
    # a negative pair exactly at the margin, and one beyond it, cost nothing
    assert loss(x, as_tuple([(0, 3, 0)])).item() == 0.0
    assert loss(x, as_tuple([(0, 4, 0)])).item() == 0.0
    # a negative pair inside the margin costs ½(m − d)²: d = 0.5 here
    assert loss(x, as_tuple([(0, 2, 0)])).item() == pytest.approx(0.5 * 0.5 ** 2)
    # a negative pair at distance 0 costs ½m², a positive pair at distance 0 nothing
    assert loss(x, as_tuple([(0, 5, 0)])).item() == pytest.approx(0.5)
    assert loss(x, as_tuple([(0, 5, 1)])).item() == 0.0
    # a positive pair costs ½d² at any distance, margin or not
    assert loss(x, as_tuple([(0, 1, 1)])).item() == pytest.approx(0.5 * 25)


def test_contrastive_gradient_is_finite_at_zero_distance():
    x = torch.tensor(POINTS, requires_grad=True)
    ContrastiveLoss(1.0)(x, as_tuple([(0, 5, 0), (0, 5, 1)])).backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("loss", [ContrastiveLoss(1.0), TripletLoss(1.0)])
def test_no_tuples_gives_a_zero_that_supports_backward(loss):
    x = torch.tensor(POINTS, requires_grad=True)
    empty = tuple(torch.zeros(0, dtype=torch.long) for _ in range(3))
    value = loss(x, empty)
    value.backward()
    assert value.item() == 0.0
    assert x.grad is not None and (x.grad == 0).all()


@pytest.mark.parametrize("margin", [0.1, 1.0, 3.0])
def test_triplet_matches_a_plain_loop(margin):
    triplets = [(0, 2, 1), (0, 1, 2), (3, 0, 4), (5, 0, 1), (2, 3, 4)]
    x = torch.tensor(POINTS)
    got = TripletLoss(margin)(x, as_tuple(triplets))
    assert got.item() == pytest.approx(triplet_by_hand(POINTS, triplets, margin), rel=1e-6)


# ---------------------------------------------------------------- three-way contrastive (seed 000, idea 2)

from training.losses import MagnetLoss, SiameseBCELoss, ThreeWayContrastiveLoss  # noqa: E402


def three_way_by_hand(points, pairs, margin, margin_fn, weight_fn):
    total = 0.0
    for i, j, kind in pairs:
        d = math.dist(points[i], points[j])
        if kind == 0:
            total += 0.5 * d ** 2
        elif kind == 1:
            total += 0.5 * weight_fn * max(0.0, margin_fn - d) ** 2
        else:
            total += 0.5 * max(0.0, margin - d) ** 2
    return total / len(pairs)


@pytest.mark.parametrize("margin,margin_fn,weight_fn", [(1.0, 0.5, 0.5), (2.0, 1.5, 0.25), (1.0, 1.0, 1.0)])
def test_three_way_matches_a_plain_loop(margin, margin_fn, weight_fn):
    pairs = [(0, 1, 0), (0, 2, 0), (0, 2, 1), (0, 3, 1), (0, 2, 2), (0, 3, 2), (0, 4, 2), (0, 5, 1), (0, 5, 2)]
    got = ThreeWayContrastiveLoss(margin, margin_fn, weight_fn)(torch.tensor(POINTS), as_tuple(pairs))
    assert got.item() == pytest.approx(three_way_by_hand(POINTS, pairs, margin, margin_fn, weight_fn), rel=1e-6)


def test_three_way_margin_edges_push_false_negatives_less():
    x = torch.tensor(POINTS)
    loss = ThreeWayContrastiveLoss(margin=1.0, margin_fn=0.5, weight_fn=0.5)
    # at d = 0.5 a false negative sits exactly at its margin (free), a negative still costs ½(1 − 0.5)²
    assert loss(x, as_tuple([(0, 2, 1)])).item() == 0.0
    assert loss(x, as_tuple([(0, 2, 2)])).item() == pytest.approx(0.5 * 0.25)
    # at d = 0 a false negative costs ½·w·m_fn², a negative ½·m²: the false negative is pushed less
    assert loss(x, as_tuple([(0, 5, 1)])).item() == pytest.approx(0.5 * 0.5 * 0.25)
    assert loss(x, as_tuple([(0, 5, 2)])).item() == pytest.approx(0.5)
    # at the full margin neither costs; a true positive costs ½d² wherever it is
    assert loss(x, as_tuple([(0, 3, 1), (0, 3, 2)])).item() == 0.0
    assert loss(x, as_tuple([(0, 1, 0)])).item() == pytest.approx(12.5)


# ---------------------------------------------------------------- Siamese BCE (seeds 002, 004)


def bce_by_hand(logits, similar):
    total = 0.0
    for z, y in zip(logits, similar):
        p = 1 / (1 + math.exp(-z))
        total -= y * math.log(p) + (1 - y) * math.log(1 - p)
    return total / len(logits)


def test_bce_matches_a_plain_loop():
    logits, similar = [2.0, -1.0, 0.0, 0.5, -3.0, 4.0], [1, 0, 1, 0, 1, 0]
    got = SiameseBCELoss()(torch.tensor(logits), torch.tensor(similar))
    assert got.item() == pytest.approx(bce_by_hand(logits, similar), rel=1e-6)
    # a sure and right head costs almost nothing; at logit 0 any pair costs log 2
    assert SiameseBCELoss()(torch.tensor([30.0, -30.0]), torch.tensor([1, 0])).item() < 1e-6
    assert SiameseBCELoss()(torch.tensor([0.0]), torch.tensor([1])).item() == pytest.approx(math.log(2))


# ---------------------------------------------------------------- magnet (seed 001)


def magnet_by_hand(points, clusters, classes, alpha):
    """The seed's formula, term by term: batch means, σ² over N − 1, the sum over other classes'
    clusters, {·}₊, averaged over all N points."""
    ids = sorted(set(clusters))
    means = {}
    for c in ids:
        members = [p for p, k in zip(points, clusters) if k == c]
        means[c] = [sum(v) / len(members) for v in zip(*members)]
    cluster_class = {k: cls for k, cls in zip(clusters, classes)}
    n = len(points)
    variance = sum(math.dist(p, means[k]) ** 2 for p, k in zip(points, clusters)) / (n - 1)
    total = 0.0
    for p, k, cls in zip(points, clusters, classes):
        numerator = math.exp(-math.dist(p, means[k]) ** 2 / variance - alpha)
        denominator = sum(math.exp(-math.dist(p, means[c]) ** 2 / variance) for c in ids if cluster_class[c] != cls)
        if denominator == 0.0:
            continue  # {−log(x / 0)}₊ = 0
        total += max(0.0, -math.log(numerator / denominator))
    return total / n


MAGNET_POINTS = [(0.0, 0.0), (0.4, 0.2), (0.2, 0.5), (1.0, 1.0), (1.3, 0.8), (0.9, 1.4),
                 (2.0, 0.1), (1.8, 0.4)]
MAGNET_CLUSTERS = [0, 0, 0, 1, 1, 1, 7, 7]  # any ids: the loss groups by them
MAGNET_CLASSES = [0, 0, 0, 1, 1, 1, 2, 2]


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.5, 5.0])
def test_magnet_matches_a_plain_loop(alpha):
    x = torch.tensor(MAGNET_POINTS, dtype=torch.float64)
    got = MagnetLoss(alpha)(x, torch.tensor(MAGNET_CLUSTERS), torch.tensor(MAGNET_CLASSES))
    assert got.item() == pytest.approx(magnet_by_hand(MAGNET_POINTS, MAGNET_CLUSTERS, MAGNET_CLASSES, alpha), rel=1e-9)


def test_magnet_with_two_clusters_per_class_matches_a_plain_loop():
    points = [(0.0, 0.0), (0.2, 0.0), (3.0, 0.0), (3.2, 0.1), (1.0, 1.0), (1.1, 1.2), (0.5, 2.0), (0.4, 2.2)]
    clusters, classes = [0, 0, 1, 1, 2, 2, 3, 3], [0, 0, 0, 0, 1, 1, 1, 1]
    got = MagnetLoss(1.0)(torch.tensor(points, dtype=torch.float64), torch.tensor(clusters), torch.tensor(classes))
    assert got.item() == pytest.approx(magnet_by_hand(points, clusters, classes, 1.0), rel=1e-9)


def test_magnet_far_apart_classes_cost_nothing_and_give_no_gradient():
    # tight clusters far from each other: every term is below zero before the {·}₊
    points = torch.tensor([(0.0, 0.0), (0.01, 0.0), (100.0, 0.0), (100.0, 0.01)], requires_grad=True)
    loss = MagnetLoss(1.0)(points, torch.tensor([0, 0, 1, 1]), torch.tensor([0, 0, 1, 1]))
    loss.backward()
    assert loss.item() == 0.0 and (points.grad == 0).all()


def test_magnet_hinge_opens_exactly_at_the_margin():
    # two mirrored clusters: every point's term is (|r − μ_own|² − |r − μ_other|²)/σ² + α, zero at
    # α = gap/σ²; just below that margin nothing is paid, just above it a tiny amount
    points = [(-1.0, 0.0), (-1.0, 0.5), (1.0, 0.0), (1.0, 0.5)]
    clusters, classes = [0, 0, 1, 1], [0, 0, 1, 1]
    x = torch.tensor(points, dtype=torch.float64)
    variance = 4 * 0.25 ** 2 / 3
    gap = (4.0 + 0.0625) - 0.0625  # |r − μ_other|² − |r − μ_own|² for every point
    at_margin = gap / variance
    just_inside, just_beyond = MagnetLoss(at_margin + 1e-6), MagnetLoss(at_margin - 1e-6)
    assert just_beyond(x, torch.tensor(clusters), torch.tensor(classes)).item() == 0.0
    assert 0 < just_inside(x, torch.tensor(clusters), torch.tensor(classes)).item() < 1e-5


def test_magnet_without_impostors_is_a_zero_that_supports_backward():
    x = torch.tensor([(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)], requires_grad=True)
    loss = MagnetLoss(1.0)(x, torch.tensor([0, 0, 1]), torch.tensor([3, 3, 3]))  # one class only
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(x.grad).all() and (x.grad == 0).all()


@pytest.mark.parametrize("loss,args", [
    (ThreeWayContrastiveLoss(), lambda x: (x, tuple(torch.zeros(0, dtype=torch.long) for _ in range(3)))),
    (MagnetLoss(), lambda x: (x[:0], torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long))),
    (SiameseBCELoss(), lambda x: (x[:0, 0], torch.zeros(0, dtype=torch.long))),
])
def test_new_losses_give_a_zero_that_supports_backward_without_tuples(loss, args):
    x = torch.tensor(POINTS, requires_grad=True)
    value = loss(*args(x))
    value.backward()
    assert value.item() == 0.0 and x.grad is not None and (x.grad == 0).all()


def test_magnet_gradient_is_finite_where_points_coincide_with_their_centre():
    x = torch.tensor([(0.0, 0.0), (0.0, 0.0), (1.0, 0.0), (1.0, 0.0)], requires_grad=True)
    MagnetLoss(1.0)(x, torch.tensor([0, 0, 1, 1]), torch.tensor([0, 0, 1, 1])).backward()
    assert torch.isfinite(x.grad).all()


# ---------------------------------------------------------------- the seeds' contrastive forms


def seed002_by_hand(points, pairs, margin):
    """Seed 002: LOSS = y·d² + (1 − y)·max(margin − d, 0), averaged."""
    total = 0.0
    for i, j, y in pairs:
        d = math.dist(points[i], points[j])
        total += y * d ** 2 + (1 - y) * max(margin - d, 0.0)
    return total / len(pairs)


def seed004_by_hand(points, pairs, margin):
    """Seed 004: L = (1/N)·Σ y·d + (1 − y)·max(margin − d, 0); nothing squared."""
    total = 0.0
    for i, j, y in pairs:
        d = math.dist(points[i], points[j])
        total += y * d + (1 - y) * max(margin - d, 0.0)
    return total / len(pairs)


@pytest.mark.parametrize("form, by_hand", [("seed000", contrastive_by_hand), ("seed002", seed002_by_hand),
                                           ("seed004", seed004_by_hand)])
@pytest.mark.parametrize("margin", [0.5, 1.0, 2.0])
def test_each_contrastive_form_matches_its_seeds_formula(form, by_hand, margin):
    pairs = [(0, 1, 1), (0, 2, 1), (0, 2, 0), (0, 3, 0), (0, 4, 0), (1, 2, 0), (0, 5, 1), (0, 5, 0)]
    got = ContrastiveLoss(margin, form)(torch.tensor(POINTS), as_tuple(pairs))
    assert got.item() == pytest.approx(by_hand(POINTS, pairs, margin), rel=1e-6)


def test_the_forms_differ_where_the_seeds_do():
    x = torch.tensor(POINTS)
    positive, negative = as_tuple([(0, 1, 1)]), as_tuple([(0, 2, 0)])  # d = 5; d = 0.5 with m = 1
    assert [ContrastiveLoss(1.0, f)(x, positive).item() for f in ("seed000", "seed002", "seed004")] == \
        pytest.approx([12.5, 25.0, 5.0])
    assert [ContrastiveLoss(1.0, f)(x, negative).item() for f in ("seed000", "seed002", "seed004")] == \
        pytest.approx([0.125, 0.5, 0.5])
    with pytest.raises(ValueError, match="unknown contrastive form"):
        ContrastiveLoss(1.0, "seed003")


@pytest.mark.parametrize("form", ["seed002", "seed004"])
def test_each_form_has_a_finite_gradient_at_zero_distance(form):
    x = torch.tensor(POINTS, requires_grad=True)
    ContrastiveLoss(1.0, form)(x, as_tuple([(0, 5, 0), (0, 5, 1)])).backward()
    assert torch.isfinite(x.grad).all()


def test_the_contrastive_objective_trains_the_runs_form():
    from training.config import TrainConfig
    from training.objectives.pairwise import Contrastive

    objective = Contrastive.__new__(Contrastive)  # only its criterion is wanted here
    for form in ("seed000", "seed002", "seed004"):
        objective.config = TrainConfig(contrastive_form=form, margin=0.5)
        criterion = objective.make_criterion()
        assert (criterion.form, criterion.margin) == (form, 0.5)
