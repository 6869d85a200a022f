"""The map element's Python side: row ids on the wire, the binary point table, the spec."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import pytest

from ui.map_element import element, table as tables, view
from ui.map_element.ids import decode_ids, encode_ids


def frame(n=10, splits=("train", "test"), shift=0, seed=0):
    rng = np.random.default_rng(seed)
    parts = []
    for split in splits:
        parts.append(pd.DataFrame({"split": split, "row": np.arange(n), "label": np.arange(n) % 3,
                                   "class_name": [f"c{i % 3}" for i in range(n)], "shift": shift,
                                   "source_index": -1, "x": rng.normal(size=n), "y": rng.normal(size=n)}))
    return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------- ids


def test_contiguous_ids_travel_as_ranges_and_come_back_exactly():
    ids = list(range(100, 200)) + [5, 7, 8]
    payload = encode_ids(ids, 1000)
    assert payload["ranges"] == [5, 1, 7, 2, 100, 100] and payload["count"] == 103
    assert decode_ids(payload, 1000).tolist() == sorted(ids)


def test_scattered_ids_travel_as_a_bitmask_smaller_than_ranges():
    ids = np.arange(0, 100_000, 3)
    payload = encode_ids(ids, 100_000)
    assert "bits" in payload and len(payload["bits"]) <= (100_000 // 8 + 3) * 4 // 3
    mask = np.unpackbits(np.frombuffer(base64.b64decode(payload["bits"]), np.uint8), bitorder="little")
    assert np.flatnonzero(mask).tolist() == ids.tolist()  # bit i of byte i >> 3, least significant first
    assert decode_ids(payload, 100_000).tolist() == ids.tolist()
    assert decode_ids(payload, 100_000).dtype == np.int32


def test_a_hundred_thousand_ids_of_a_million_fit_far_under_streamlits_25_mb_cap():
    rng = np.random.default_rng(0)
    ids = rng.choice(1_000_000, 100_000, replace=False)
    payload = encode_ids(ids, 1_000_000)
    assert len(str(payload)) < 200_000
    assert decode_ids(payload, 1_000_000).tolist() == sorted(ids.tolist())


@pytest.mark.parametrize("payload", [None, "x", {}, {"ranges": [1]}, {"bits": "***"}, {"ranges": "0,1"}])
def test_garbled_payloads_are_no_ids(payload):
    assert decode_ids(payload, 10).tolist() == []


def test_ids_outside_the_map_are_dropped_on_the_way_in_and_refused_on_the_way_out():
    assert decode_ids({"ranges": [8, 5]}, 10).tolist() == [8, 9]
    with pytest.raises(ValueError, match="0..9"):
        encode_ids([3, 10], 10)


# ---------------------------------------------------------------- the point table


def test_the_table_is_float32_positions_and_small_integer_codes_at_most_12_bytes_a_point():
    t = tables.point_table(frame(500))
    assert list(t.columns) == ["x", "y", "label", "split", "shift"]
    assert [t.columns[c].dtype for c in t.columns] == [np.float32, np.float32, np.uint8, np.uint8, np.uint8]
    assert t.columns.memory_usage(index=False).sum() / len(t) <= 12


def test_nan_and_infinite_points_are_left_out_and_counted():
    f = frame(10)
    f.loc[[1, 12], "x"] = np.nan
    f.loc[3, "y"] = np.inf
    t = tables.point_table(f)
    assert (len(t), t.left_out, t.total) == (17, 3, 20)
    assert np.isfinite(t.columns[["x", "y"]].to_numpy()).all()
    assert ("train", 1) not in tables.points_of(t, range(len(t)))


def test_row_ids_map_to_split_and_row_and_back():
    t = tables.point_table(frame(10, splits=("shifted", "train")))
    assert t.frame["split"].iloc[0] == "train"  # draw order: train first
    wanted = [("train", 4), ("shifted", 2)]
    ids = tables.ids_of(t, wanted)
    assert sorted(tables.points_of(t, ids)) == sorted(wanted)
    assert tables.points_of(t, [10**6, -1]) == []


def test_the_hash_names_the_bytes():
    a, b = tables.point_table(frame(50)), tables.point_table(frame(50))
    assert a.hash == b.hash
    c = frame(50)
    c.loc[0, "x"] += 1e-3
    assert tables.point_table(c).hash != a.hash


def test_above_the_cap_a_seeded_subsample_is_drawn_and_said():
    t = tables.point_table(frame(1000), max_points=500)
    assert len(t) == 500 and t.subsampled and t.total == 2000
    again = tables.point_table(frame(1000), max_points=500)
    assert t.hash == again.hash  # the same points every time
    assert not tables.point_table(frame(10)).subsampled


def test_compare_parts_keep_each_runs_points_together():
    t = tables.point_table([frame(5, splits=("test",)), frame(7, splits=("test",), seed=1)])
    assert t.parts == [(0, 5), (5, 12)]
    assert len(tables.ids_of(t, [("test", 3)])) == 2  # the same image in both runs


def test_another_epochs_positions_follow_the_tables_row_order():
    f = frame(6)
    t = tables.point_table(f)
    later = f.assign(x=f["x"] + 10).iloc[::-1].drop(index=[0])
    moved = tables.positions(t, later)
    assert moved.dtypes.tolist() == [np.float32, np.float32]
    expected = t.frame["x"].to_numpy(np.float32) + np.float32(10)
    missing = (t.frame["split"] == "train") & (t.frame["row"] == 0)
    assert np.isnan(moved["x"][missing.to_numpy()]).all()
    np.testing.assert_allclose(moved["x"][~missing.to_numpy()], expected[~missing.to_numpy()], rtol=1e-6)


def test_k_nn_verdicts_and_clusters_are_one_byte_codes():
    f = frame(4).assign(correct=[True, False, None, np.nan] * 2, cluster_colour=["#aa0000", "#00bb00"] * 4)
    t = tables.point_table(f)
    assert tables.correct_codes(t)["correct"].tolist() == [1, 0, 2, 2, 1, 0, 2, 2]
    codes, palette = tables.cluster_codes(t)
    assert palette == ["#00bb00", "#aa0000"] and codes["cluster"].tolist() == [1, 0] * 4


def test_image_cells_are_the_atlas_offset_plus_the_row():
    t = tables.point_table(frame(3))
    cells = tables.image_cells(t, {"train": 0, "test": 3})["image"].tolist()
    assert cells == [0, 1, 2, 3, 4, 5]
    assert tables.image_cells(t, {"train": 0})["image"].tolist()[3:] == [-1, -1, -1]


# ---------------------------------------------------------------- the spec and the wire


def test_colours_and_legend_per_colouring():
    t = tables.point_table(pd.concat([frame(6), frame(6, splits=("shifted",), shift=-3)]))
    spec = view.MapSpec(t, ["a", "b", "c"], "class", [view.PanelSpec("all", ["train", "test", "shifted"])])
    colour, legend, extras = view.colours(spec)
    assert colour["by"] == "class" and len(colour["palette"]) == 3 and not extras
    assert [k["name"] for k in legend] == ["a", "b", "c", "shift -3 px", "no shift"]
    assert legend[3]["symbol"] == "triangle-left"
    spec.colour = "shift"
    colour, legend, _ = view.colours(spec)
    assert len(colour["palette"]) == 2  # -3 and 0, in the order of the spec's shifts
    spec.colour = "correct"
    with pytest.raises(ValueError, match="k-NN"):
        view.colours(spec)


class FakeComponent:
    def __init__(self):
        self.calls = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)


@pytest.fixture
def mounted(monkeypatch):
    """(session state, the element's calls): view.show without a Streamlit page."""
    import streamlit as st

    state = {}
    monkeypatch.setattr(st, "session_state", state)
    fake = FakeComponent()
    monkeypatch.setattr(element, "component", lambda: fake)
    return state, fake


def test_a_table_is_sent_once_per_session_and_again_when_the_browser_lacks_it(mounted):
    state, fake = mounted
    t = tables.point_table(frame(1000))
    spec = view.MapSpec(t, ["a", "b", "c"], "class", [view.PanelSpec("train", ["train"])])
    sent = view.show("s", spec, on_selection=lambda ids: None, on_cleared=lambda: None)
    first = fake.calls[-1]["data"]
    assert f"t_{t.hash}" in first and sent["points"] == t.hash
    spec.colour = "split"  # a colour change: the spec only
    view.show("s", spec, on_selection=lambda ids: None, on_cleared=lambda: None)
    second = fake.calls[-1]["data"]
    assert [k for k in second if k.startswith("t_")] == []
    assert len(str(second["spec"])) < 2 * len(t)  # fewer than 2 bytes a point
    # the browser reports the table missing (a reloaded element): the next run sends it again
    key = element.element_key("s")
    state[key] = {"missing": [t.hash]}
    fake.calls[-1]["on_missing_change"]()
    view.show("s", spec, on_selection=lambda ids: None, on_cleared=lambda: None)
    assert f"t_{t.hash}" in fake.calls[-1]["data"]


def test_a_selection_event_reaches_python_as_row_ids_only_for_the_map_it_was_drawn_on(mounted):
    state, fake = mounted
    t = tables.point_table(frame(20))
    got = []
    view.show("s", view.MapSpec(t, ["a", "b", "c"], "class", [view.PanelSpec("train", ["train"])]),
              on_selection=got.append, on_cleared=lambda: None)
    key = element.element_key("s")
    state[key] = {"selection": {**encode_ids([3, 4, 30], len(t)), "n": len(t), "table": t.hash}}
    fake.calls[-1]["on_selection_change"]()
    assert got[-1].tolist() == [3, 4, 30]
    state[key] = {"selection": {**encode_ids([1], len(t)), "n": len(t), "table": "another map"}}
    fake.calls[-1]["on_selection_change"]()
    assert len(got) == 1


def test_overlays_keep_data_coordinates_per_panel():
    layer = element.Overlays()
    layer.add_links(2, [0, 1], [0, 1], [1, 2], [1, 2], color="#333", dash="dot")
    layer.add_marks(1, [0.5, 1.5], [2, 3], text=["a", "b"], symbol="star", color=["#111", "#222"])
    assert layer.items[0] == {"kind": "lines", "panel": 1, "x0": [0.0, 1.0], "y0": [0.0, 1.0], "x1": [1.0, 2.0],
                              "y1": [1.0, 2.0], "color": "#333", "width": 1.2, "dash": True, "opacity": 1.0}
    assert [(i["color"], i["x"], i["symbol"]) for i in layer.items[1:]] == [("#111", [0.5], "star"), ("#222", [1.5], "star")]
    assert layer.texts() == ["a", "b"]
