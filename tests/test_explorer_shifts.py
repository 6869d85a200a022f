import numpy as np
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
