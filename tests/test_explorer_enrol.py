import numpy as np
import pytest
from fakerun import add_heldout, make_fake_run

from explorer import enrol
from explorer.runs import load_run


@pytest.fixture(scope="module")
def heldout_run(tmp_path_factory):
    path = make_fake_run(tmp_path_factory.mktemp("runs"), n_classes=3, dim=4, epochs=1)
    add_heldout(path, n_per_class=30)
    return path


def brute_force_ranks(Q, q_labels, G, g_labels):
    ranks = []
    for q, label in zip(Q, q_labels):
        nearest = {c: min(np.linalg.norm(q - g) for g, gl in zip(G, g_labels) if gl == c) for c in set(g_labels)}
        ranks.append(1 + sum(d < nearest[label] for d in nearest.values()))
    return np.array(ranks)


def test_class_ranks_equal_a_brute_force_ranking():
    rng = np.random.default_rng(0)
    G, g_labels = rng.normal(size=(12, 3)), np.repeat([0, 1, 2, 5], 3)
    Q, q_labels = rng.normal(size=(40, 3)), rng.choice([0, 1, 2, 5], 40)
    assert (enrol.class_ranks(Q, G, g_labels, q_labels, chunk=7) == brute_force_ranks(Q, q_labels, G, g_labels)).all()
    with pytest.raises(ValueError, match="enrolled"):
        enrol.class_ranks(Q, G, g_labels, np.full(40, 9))


def test_unseen_classes_are_enrolled_from_a_few_shots(heldout_run):
    run = load_run(heldout_run)
    assert run.splits[-1] == "heldout"
    found = enrol.enrol(run, shots=3)
    assert found.classes == [3, 4] and found.queries == 2 * (30 - 3) and not found.distractors
    assert found.rank1 > 0.95 and found.rank5 == 1.0  # well-separated fake classes, 2 in the gallery
    assert all(len(rows) == 3 for rows in found.gallery_rows.values())
    assert list(found.per_class["class_name"]) == ["unseen0", "unseen1"]
    with_known = enrol.enrol(run, shots=3, distractors=True)
    assert with_known.distractors == [0, 1, 2] and with_known.rank1 <= found.rank1 + 1e-9
    assert enrol.enrol(run, shots=3).gallery_rows == found.gallery_rows  # seeded


def test_enrolment_says_what_is_wrong(heldout_run, tmp_path):
    with pytest.raises(ValueError, match="enrol fewer"):
        enrol.enrol(load_run(heldout_run), shots=30)
    with pytest.raises(ValueError, match="--holdout-classes"):
        enrol.enrol(load_run(make_fake_run(tmp_path, epochs=1)))


def test_pairs_of_unseen_images_verify_on_the_same_distance(heldout_run):
    d, y = enrol.unseen_pairs(load_run(heldout_run), n_pairs=400)
    assert len(d) == 400 and y.sum() == 200
    assert d[y == 1].mean() < d[y == 0].mean()
