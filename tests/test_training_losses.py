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
