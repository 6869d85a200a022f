import numpy as np
import pandas as pd
import pytest
from fakerun import make_fake_run

from explorer.runs import load_run
from explorer.shifts import accuracy_by_shift, displacement, most_moved, run_shift_table, shift_table

X_test = np.array([[0.0, 0], [10, 0]])
X_shifted = np.array([[1.0, 0], [3, 0], [10, 2], [6, 0]])
SOURCE = np.array([0, 0, 1, 1])
SHIFT = np.array([-3, 6, -3, 6])
LABELS = np.array([0, 0, 1, 1])


def table():
    return shift_table(X_test, [0, 1], X_shifted, [0, 1, 1, 0], SOURCE, SHIFT, LABELS)


def test_displacement_by_hand():
    np.testing.assert_allclose(displacement(X_test, X_shifted, SOURCE), [1, 3, 2, 4])
    with pytest.raises(ValueError, match="source_index"):
        displacement(X_test, X_shifted, [0, 0, 1, 2])


def test_shift_table_marks_class_changes():
    t = table()
    assert t["changed"].tolist() == [False, True, False, True]
    assert t["correct"].tolist() == [True, False, True, False]


def test_accuracy_by_shift_includes_the_unshifted_test_set():
    frame = accuracy_by_shift(table())
    assert frame["shift"].tolist() == [-3, 0, 6]
    assert frame["accuracy"].tolist() == [1.0, 1.0, 0.0]
    assert frame["mean_displacement"].tolist() == [1.5, 0.0, 3.5]


def test_most_moved_orders_sources():
    by_distance = most_moved(table(), by="displacement")
    assert by_distance["source_index"].tolist() == [1, 0]
    assert by_distance["worst_shift"].tolist() == [6, 6]
    assert by_distance["n_changed"].tolist() == [1, 1]


def test_run_shift_table_bigger_shifts_move_further(tmp_path):
    run = load_run(make_fake_run(tmp_path, n_test=80))
    t = run_shift_table(run)
    assert len(t) == 320 and set(t["shift"]) == {-6, -3, 3, 6}
    assert (t["row"] == np.arange(320)).all()
    frame = accuracy_by_shift(t).set_index("shift")
    assert frame.loc[6, "mean_displacement"] > frame.loc[3, "mean_displacement"]
    assert frame.loc[-6, "mean_displacement"] > frame.loc[-3, "mean_displacement"]


def test_turned_wrong_ranks_right_sources_whose_copies_turn_wrong_and_lists_wrong_sources_apart():
    from explorer.shifts import turned_wrong

    # source 0: right, two copies wrong; source 1: right, one copy wrong; source 2: right, none
    # wrong; source 3: wrong itself, its copies all right (they "change class", yet it is no stray)
    table = pd.DataFrame({
        "source_index": [0, 0, 0, 1, 1, 2, 2, 3, 3],
        "shift": [-6, 3, 6, -6, 6, -6, 6, -6, 6],
        "label": [1, 1, 1, 0, 0, 0, 0, 1, 1],
        "source_prediction": [1, 1, 1, 0, 0, 0, 0, 0, 0],
        "prediction": [0, 1, 0, 0, 1, 0, 0, 1, 1],
        "displacement": [1.0, 0.1, 2.0, 0.5, 3.0, 0.2, 0.2, 4.0, 4.0],
    })
    table["correct"] = table["prediction"] == table["label"]
    turned, wrong = turned_wrong(table)
    assert turned["source_index"].tolist() == [0, 1]
    assert turned["n_wrong"].tolist() == [2, 1] and turned["wrong_shifts"].tolist() == [(-6, 6), (6,)]
    assert wrong["source_index"].tolist() == [3] and wrong["n_wrong"].tolist() == [0]
    assert turned_wrong(table, n=1)[0]["source_index"].tolist() == [0]
