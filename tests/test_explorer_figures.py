import numpy as np
import pandas as pd
import pytest
from fakerun import make_fake_run

from explorer import figures, map_figures
from explorer.distances import histogram, roc, verification
from explorer.projections import projection
from explorer.runs import load_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return load_run(make_fake_run(tmp_path_factory.mktemp("runs"), n_classes=3, dim=2))


@pytest.fixture(scope="module")
def frame(run):
    return projection(run, method="raw", cache=False)


def test_scatter_keeps_every_point_in_one_trace_with_its_identity(run, frame):
    fig = map_figures.scatter_figure(frame, run.class_names)
    data = fig.data[0]
    assert data.type == "scattergl" and len(data.x) == len(frame) == 120 + 60 + 240
    assert [tuple(c) for c in data.customdata] == list(zip(frame["split"], frame["row"]))
    for legend_only in fig.data[1:]:
        assert legend_only.x == (None,) and legend_only.showlegend is not False
    assert sum(t.x is not None and len(t.x) > 1 for t in fig.data) == 1


def test_scatter_legend_names_classes_and_shifts(run, frame):
    fig = map_figures.scatter_figure(frame, run.class_names)
    names = [t.name for t in fig.data[1:]]
    assert names == ["class0", "class1", "class2", "shift -6 px", "shift -3 px", "no shift",
                     "shift +3 px", "shift +6 px"]
    assert fig.layout.xaxis.title.text == "e0" and fig.layout.yaxis.title.text == "e1"
    symbols = np.asarray(fig.data[0].marker.symbol)
    assert set(symbols[frame["shift"].to_numpy() == 0]) == {"circle"}
    assert set(symbols[frame["shift"].to_numpy() == -6]) == {"triangle-left"}
    assert set(symbols[frame["shift"].to_numpy() == 3]) == {"triangle-right-open"}


def test_scatter_of_one_split_and_other_colourings(run, frame):
    train = frame[frame["split"] == "train"]
    fig = map_figures.scatter_figure(train, run.class_names, title="train")
    assert len(fig.data) == 1 + 3 and fig.layout.title.text == "train"  # no shift legend
    by_split = map_figures.scatter_figure(frame, run.class_names, color_by="split")
    assert [t.name for t in by_split.data[1:4]] == ["train", "test", "shifted"]
    with pytest.raises(ValueError, match="color_by"):
        map_figures.scatter_figure(frame, color_by="size")


def test_pca_axes_are_named(run):
    fig = map_figures.scatter_figure(projection(run, method="pca", cache=False))
    assert fig.layout.xaxis.title.text == "PC 1" and fig.layout.yaxis.title.text == "PC 2"


def test_metric_curves(run):
    loss = figures.loss_figure(run.metrics)
    assert [t.name for t in loss.data] == ["train", "val", "test", "shifted"]
    assert loss.layout.xaxis.title.text == "epoch" and loss.layout.yaxis.title.text == "loss"
    metrics = figures.metrics_figure(run.metrics)
    assert len(metrics.data) == 4 * 4


def test_confusion_heatmaps():
    fig = figures.confusion_grid_figure([np.eye(3, dtype=int) * 5] * 4, ["a", "b", "c", "d"], ["x", "y", "z"])
    assert len(fig.data) == 4 and all(t.type == "heatmap" for t in fig.data)
    x_titles = [fig.layout[f"xaxis{i or ''}"].title.text for i in (0, 2, 3, 4)]
    y_titles = [fig.layout[f"yaxis{i or ''}"].title.text for i in (0, 2, 3, 4)]
    assert x_titles == [None, "predicted class", "predicted class", "predicted class"]  # 3 columns, 2 rows
    assert y_titles == ["true class", None, None, "true class"]
    assert fig.layout.xaxis5.visible is False and fig.layout.xaxis6.visible is False  # empty cells
    assert np.asarray(fig.data[0].text).tolist() == (np.eye(3, dtype=int) * 5).tolist()
    single = figures.confusion_figure(np.array([[3, 1], [0, 4]]), ["p", "q"], "knn")
    assert len(single.data) == 1 and single.layout.title.text == "knn"


def test_centroid_heatmap():
    fig = figures.centroid_figure(np.array([[1.0, 5.0], [5.0, 2.0]]), ["a", "b"])
    assert len(fig.data) == 1 and list(fig.data[0].x) == ["a", "b"] and "diagonal" in fig.layout.title.text


def test_histogram_and_roc():
    rng = np.random.default_rng(0)
    d = np.r_[rng.normal(1, 0.3, 200), rng.normal(2, 0.3, 200)]
    y = np.r_[np.ones(200), np.zeros(200)].astype(int)
    hist = figures.histogram_figure(histogram(d, y))
    assert [t.type for t in hist.data] == ["bar", "bar"]
    assert hist.layout.xaxis.title.text == "embedding distance"
    fig = figures.roc_figure({"test": roc(d, y)}, {"test": verification(d, y)})
    assert fig.data[0].name.startswith("test (AUC") and fig.layout.xaxis.title.text == "false accept rate"


def test_shift_figures():
    accuracies = pd.DataFrame({"classifier": ["knn"] * 3, "shift": [-3, 0, 3], "accuracy": [0.8, 1.0, 0.7]})
    assert len(figures.accuracy_by_shift_figure(accuracies).data) == 1
    table = pd.DataFrame({"shift": [-3, -3, 3], "displacement": [1.0, 2.0, 3.0]})
    assert [t.name for t in figures.displacement_figure(table).data] == ["-3 px", "+3 px"]


def test_image_grid_and_gallery(run):
    images = run.images("test")[:5]
    fig = figures.image_grid_figure(images, [f"#{i}" for i in range(5)], columns=3, title="grid")
    assert len(fig.data) == 1 and fig.data[0].type == "image"
    assert fig.data[0].source.startswith("data:image/png;base64,")
    assert [a.text for a in fig.layout.annotations] == ["#0", "#1", "#2", "#3", "#4"]
    gallery = pd.DataFrame({"rank": [1, 2], "class_name": ["a", "b"], "distance": [0.5, 0.7]})
    fig = figures.gallery_figure(images[0], gallery, images[1:3])
    assert [a.text for a in fig.layout.annotations] == ["query", "#1 a d=0.50", "#2 b d=0.70"]
    with pytest.raises(ValueError, match="captions"):
        figures.image_grid_figure(images, ["one"])


def test_colour_by_correctness(run, frame):
    from explorer.classifiers import classify, knn_correct

    correct = knn_correct(frame, classify(run, classifiers=("knn",)))
    assert correct[frame["split"] == "train"].isna().all()
    assert set(correct[frame["split"] == "shifted"]) <= {True, False}
    fig = map_figures.scatter_figure(frame.assign(correct=correct.to_numpy()), run.class_names, color_by="correct")
    assert [t.name for t in fig.data[1:4]] == ["k-NN right", "k-NN wrong", "train (k-NN fitted here)"]
    with pytest.raises(ValueError, match="correct"):
        map_figures.scatter_figure(frame, color_by="correct")


def test_maps_side_by_side_keep_one_trace_per_panel(run, frame):
    panels = [(split, frame[frame["split"] == split]) for split in ("train", "test", "shifted")]
    fig = map_figures.maps_figure(panels, run.class_names, run_ids=["a", "b", "c"])
    assert [len(t.x) for t in fig.data[:3]] == [120, 60, 240]
    assert all(t.x == (None,) for t in fig.data[3:])
    assert list(fig.data[1].customdata[0]) == ["test", 0, "b"]
    names = [t.name for t in fig.data[3:]]
    assert len(names) == len(set(names)) and "class0" in names and "shift +6 px" in names
    assert fig.layout.xaxis.range == fig.layout.xaxis3.range and fig.layout.xaxis.title.text == "e0"


def test_histograms_of_several_runs_share_one_figure_and_can_be_rescaled():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(200), np.zeros(200)].astype(int)
    near = histogram(np.r_[rng.normal(0.2, 0.05, 200), rng.normal(1.0, 0.1, 200)], y)
    far = histogram(np.r_[rng.normal(2.0, 0.5, 200), rng.normal(10.0, 1.0, 200)], y)
    fig = figures.histograms_figure({"contrastive": near, "triplet": far})
    assert len(fig.data) == 4 and fig.layout.xaxis.title.text == "embedding distance"
    assert [t.line.dash for t in fig.data] == ["solid", "dash", "solid", "dash"]
    scaled = figures.histograms_figure({"contrastive": near, "triplet": far},
                                       scales={"contrastive": 1.0, "triplet": 10.0})
    assert max(scaled.data[3].x) == pytest.approx(max(fig.data[3].x) / 10)
    assert "mean different-class distance" in scaled.layout.xaxis.title.text


def test_the_steps_figure_draws_every_step_or_says_which_it_thins():
    from explorer import figures

    steps = pd.DataFrame({"epoch": np.repeat([1, 2], 5), "step": np.tile(np.arange(5), 2),
                          "iteration": np.arange(1, 11), "loss": np.linspace(1, 0.1, 10)})
    metrics = pd.DataFrame({"epoch": [1, 2], "split": ["val", "val"], "loss": [0.9, 0.4],
                            "pos_dist": 0.0, "neg_dist": 1.0, "knn_accuracy": 0.5, "seconds": 1.0})
    fig = figures.steps_figure(steps, metrics)
    assert list(fig.data[0].x) == list(range(1, 11))
    val = [t for t in fig.data if t.name.startswith("val")][0]
    assert list(val.x) == [5, 10] and list(val.y) == [0.9, 0.4]  # at each epoch's last step
    many = pd.DataFrame({"epoch": 1, "step": np.arange(50_000), "iteration": np.arange(50_000),
                         "loss": np.random.default_rng(0).random(50_000)})
    fig = figures.steps_figure(many)
    assert len(fig.data[0].x) <= figures.MAX_STEP_POINTS and "1 in 3 drawn" in fig.data[0].name
    assert len(fig.data[1].x) == 50_000


def test_the_pair_type_histogram_draws_the_types_that_have_pairs():
    from explorer import figures

    hist = pd.DataFrame({"left": [0.0, 1.0], "right": [1.0, 2.0], "true positive": [1.0, 0.0],
                         "false negative": [0.0, 0.0], "negative": [0.0, 1.0]})
    fig = figures.type_histogram_figure(hist, ["true positive", "false negative", "negative"])
    assert [t.name for t in fig.data] == ["true positive", "negative"]
