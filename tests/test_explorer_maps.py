import numpy as np
import pandas as pd
import pytest

from explorer import maps
from explorer.palette import shift_palette


def frame(split: str, n: int, shifts=(0,), seed: int = 0, scale: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    shift = np.resize(np.asarray(shifts), n)
    return pd.DataFrame({"split": split, "row": np.arange(n), "label": np.arange(n) % 2,
                         "class_name": [f"c{i % 2}" for i in range(n)], "shift": shift,
                         "source_index": np.where(shift != 0, np.arange(n) // max(len(shifts), 1), -1),
                         "x": rng.normal(size=n) * scale, "y": rng.normal(size=n) * scale})


@pytest.fixture
def panels():
    return [maps.Panel("train", frame("train", 30)), maps.Panel("test", frame("test", 10, seed=1)),
            maps.Panel("shifted", frame("shifted", 40, shifts=(-6, -3, 3, 6), seed=2))]


def test_one_trace_per_panel_with_identity_and_image_index(panels):
    fig = maps.map_figure(panels, ["c0", "c1"])
    assert [len(t.x) for t in fig.data[:3]] == [30, 10, 40]
    assert all(t.type == "scattergl" for t in fig.data[:3])
    custom = np.asarray(fig.data[2].customdata)
    # [split code, row, shift]: numbers, so a large map stays small on its way to the browser
    assert custom.dtype == np.float32 and custom.shape == (40, 3)
    assert {maps.split_of(c) for c in custom[:, 0]} == {"shifted"}
    ordered = maps._ordered(panels[2].frame)
    assert custom[:, 1].tolist() == ordered["row"].tolist() and custom[:, 2].tolist() == ordered["shift"].tolist()
    assert "shifted row %{customdata[1]}" in fig.data[2].hovertemplate
    assert "shift %{customdata[2]:+d} px" in fig.data[2].hovertemplate
    assert np.asarray(fig.data[0].customdata).shape == (30, 2)  # no shifts in train: no shift column
    assert "shift" not in fig.data[0].hovertemplate
    assert all(t.x == (None,) for t in fig.data[3:])  # legend entries only
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis3.scaleanchor == "x3"
    assert fig.layout.xaxis.range == fig.layout.xaxis3.range  # one range for every panel


def test_shifts_are_told_apart_by_filled_shapes_and_the_shared_palette(panels):
    markers = maps.shift_markers([-6, -3, 3, 6])
    assert markers[0][0] == "circle" and markers[-3][0] == markers[-6][0] == "triangle-left"
    assert markers[6][1] > markers[3][1] and markers[6][2] > 0 == markers[3][2]  # bigger, outlined
    assert not any("open" in m[0] for m in markers.values())
    fig = maps.map_figure(panels, ["c0", "c1"], color_by="shift")
    ordered = maps._ordered(panels[2].frame)  # the trace's point order
    colors = dict(zip(ordered["shift"], fig.data[2].marker.color))
    assert colors == {s: shift_palette([-6, -3, 3, 6])[s] for s in (-6, -3, 3, 6)}
    legend = [t.name for t in fig.data[3:]]
    assert legend == ["no shift", "shift -6 px", "shift -3 px", "shift +3 px", "shift +6 px"]


def test_shifted_points_are_drawn_over_the_rest_and_small_shifts_over_large():
    both = pd.concat([frame("train", 5), frame("shifted", 8, shifts=(-6, -3, 3, 6))], ignore_index=True)
    order = maps._ordered(both)
    assert list(order["split"])[:5] == ["train"] * 5
    assert list(order["shift"].abs())[5:] == sorted(both["shift"].abs()[5:], reverse=True)


def test_the_selection_is_drawn_in_every_panel(panels):
    fig = maps.map_figure(panels, ["c0", "c1"], selected=[("train", 3), ("shifted", 0), ("shifted", 1)])
    assert [len(t.selectedpoints) for t in fig.data[:3]] == [1, 0, 2]
    chosen = [fig.data[0].customdata[i] for i in fig.data[0].selectedpoints]
    assert [(maps.split_of(c[0]), int(c[1])) for c in chosen] == [("train", 3)]
    assert fig.data[1].unselected.marker.opacity < 0.5
    assert maps.map_figure(panels, ["c0", "c1"]).data[0].selectedpoints is None


def test_the_hover_names_the_class_the_point_and_what_is_known_of_it(panels):
    train = panels[0].frame.assign(correct=[True, False, None] * 10, cluster=np.arange(30) % 3)
    fig = maps.map_figure([maps.Panel("train", train)], ["c0", "c1"])
    trace = fig.data[0]
    ordered = maps._ordered(train)
    assert list(trace.text[:3]) == ["c0 · k-NN right", "c1 · k-NN wrong", "c0"]
    assert [n.split(" ·")[0] for n in trace.text] == ordered["class_name"].tolist()
    assert np.asarray(trace.customdata)[:3, 2].tolist() == [0, 1, 2]  # the cluster column
    assert trace.hovertemplate == ("<b>%{text}</b><br>train row %{customdata[1]}<br>cluster %{customdata[2]}"
                                   "<extra></extra>")
    assert trace.hovertext is None  # one split: named in the template, not per point


def test_a_panel_of_several_splits_names_each_point_s_split(panels):
    both = pd.concat([panels[0].frame, panels[2].frame], ignore_index=True)
    trace = maps.map_figure([maps.Panel("overlay", both)], ["c0", "c1"]).data[0]
    ordered = maps._ordered(both)
    assert list(trace.hovertext) == ordered["split"].tolist()
    assert "%{hovertext} row %{customdata[1]}" in trace.hovertemplate
    with pytest.raises(ValueError, match="unknown split 'holdout'"):
        maps.map_figure([maps.Panel("odd", panels[0].frame.assign(split="holdout"))], ["c0", "c1"])


def test_fixed_ranges_and_overlays(panels):
    ranges = {"x": [-10.0, 10.0], "y": [-5.0, 5.0]}
    fig = maps.map_figure(panels, ["c0", "c1"], ranges=ranges)
    assert list(fig.layout.xaxis2.range) == [-10, 10] and list(fig.layout.yaxis2.range) == [-5, 5]
    maps.add_links(fig, 3, [0, 1], [0, 1], [2, 3], [2, 3])
    maps.add_marks(fig, 2, [0.5], [0.5], text=["picked"])
    lines, marks = fig.data[-2], fig.data[-1]
    assert lines.xaxis == "x3" and lines.mode == "lines" and len(lines.x) == 6 and lines.customdata is None
    assert marks.xaxis == "x2" and marks.text == ("picked",)
    with pytest.raises(ValueError, match="same length"):
        maps.add_links(fig, 1, [0], [0], [1, 2], [1])


def test_data_ranges_cover_every_frame_with_padding():
    a, b = frame("train", 20, scale=1), frame("train", 20, seed=3, scale=5)
    ranges = maps.data_ranges([a, b], pad=0.0)
    both = pd.concat([a, b])
    assert ranges["x"] == [both["x"].min(), both["x"].max()]


def test_animation_has_a_frame_per_epoch_fixed_axes_and_a_moving_slider():
    epochs = [(e, [maps.Panel("train", frame("train", 20, scale=0.1 + e)), maps.Panel("test", frame("test", 8, scale=0.1 + e))])
              for e in (0, 1, 2)]
    fig = maps.animation_figure(epochs, ["c0", "c1"], title="map at epoch {epoch}")
    assert [f.name for f in fig.frames] == ["0", "1", "2"]
    assert fig.layout.title.text == "map at epoch 0" and fig.frames[2].layout.title.text == "map at epoch 2"
    assert [s.label for s in fig.layout.sliders[0].steps] == ["0", "1", "2"]
    assert fig.layout.updatemenus[0].buttons[0].label.endswith("Play")
    for axis in ("x", "y"):  # one range holds every epoch's points
        low, high = fig.layout[f"{axis}axis"].range
        assert all(low <= p.frame[axis].min() and p.frame[axis].max() <= high for _, ps in epochs for p in ps)
    assert all(f.layout.xaxis.range is None for f in fig.frames)  # no frame rescales the axes


def test_bad_colouring_is_refused(panels):
    with pytest.raises(ValueError, match="color_by"):
        maps.map_figure(panels, ["c0", "c1"], color_by="size")
    with pytest.raises(ValueError, match="correct"):
        maps.map_figure(panels, ["c0", "c1"], color_by="correct")
    with pytest.raises(ValueError, match="at least one panel"):
        maps.map_figure([], ["c0"])
