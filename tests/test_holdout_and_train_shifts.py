"""--holdout-classes keeps classes out of training and embeds them as the split heldout;
--train-shifts adds shifted copies of the training images, each similar to its source."""

import dataclasses

import numpy as np
import pytest

from datafiles import tiny_splits
from training import rundir
from training.config import TrainConfig
from training.data import load_bundled_mnist, load_splits, pixel_stats
from training.errors import InputError
from training.objectives import make_objective
from training.shift import shift_images, with_train_shifts


def tiny_data(n_per_class=10, **kwargs):
    return tiny_splits(n_per_class, n_held=4, **kwargs)


def fingerprints(images: np.ndarray) -> set[bytes]:
    return {image.tobytes() for image in images}


# ---------------------------------------------------------------- --holdout-classes


def test_held_out_classes_leave_train_val_and_test_and_form_their_own_split():
    data = load_splits(TrainConfig(classes=["4", "7", "9"], holdout_classes=["7"]).validate())
    assert data.class_names == ["4", "7", "9"]
    for part in (data.train, data.val, data.test):
        assert set(np.unique(part.labels)) == {0, 2}
    assert (data.heldout.labels == 1).all()
    source, _, _ = load_bundled_mnist()
    sevens = source.images[source.labels == 7]
    assert len(data.heldout) == len(sevens) == 500  # every 7 of the bundled sample
    assert fingerprints(data.heldout.images) == fingerprints(sevens)
    assert (data.mean, data.std) == pixel_stats(data.train.images)  # normalised without the 7s


def test_held_out_classes_are_named_as_classes_are():
    by_index = load_splits(TrainConfig(classes=["1", "2", "3"], holdout_classes=["2"]).validate())
    assert by_index.class_names == ["1", "2", "3"] and (by_index.heldout.labels == 1).all()
    no_subset = load_splits(TrainConfig(holdout_classes=["0", "5"], max_train=200).validate())
    assert no_subset.class_names == [str(d) for d in range(10)]
    assert set(np.unique(no_subset.heldout.labels)) == {0, 5}
    assert not np.isin(no_subset.train.labels, [0, 5]).any() and len(np.unique(no_subset.train.labels)) == 8


@pytest.mark.parametrize("options,message", [
    ({"classes": ["4", "7", "9"], "holdout_classes": ["3"]}, "--holdout-classes 3 is not among the chosen --classes"),
    ({"holdout_classes": ["cat"]}, "--holdout-classes cat is not among the data set's classes"),
    ({"classes": ["4", "9"], "holdout_classes": ["9"]}, "--holdout-classes must leave at least two classes"),
    ({"holdout_classes": [str(d) for d in range(9)]}, "--holdout-classes must leave at least two classes"),
])
def test_held_out_classes_must_be_chosen_and_leave_two_to_train_on(options, message):
    with pytest.raises(InputError, match=message) as error:
        TrainConfig(**options).validate()
    assert "\n" not in str(error.value)


def test_a_folder_data_set_checks_held_out_classes_when_it_is_read(tmp_path):
    from datafiles import write_class_folders

    folder = write_class_folders(tmp_path / "data", per_class=6, size=(16, 16))
    config = TrainConfig(dataset="folder", data_dir=str(folder), image_size=16)
    data = load_splits(dataclasses.replace(config, holdout_classes=["beta"]))
    assert data.class_names == ["alpha", "beta", "gamma"] and len(data.heldout) == 6
    with pytest.raises(InputError, match="--holdout-classes: unknown class 'delta'"):
        load_splits(dataclasses.replace(config, holdout_classes=["delta"]))
    with pytest.raises(InputError, match="--holdout-classes gamma is not among the chosen --classes"):
        load_splits(dataclasses.replace(config, classes=["alpha", "beta"], holdout_classes=["gamma"]))


def test_a_run_embeds_the_held_out_images_as_the_split_heldout_with_their_own_names(tmp_path, cli):
    from training.trainer import train

    config = TrainConfig(classes=["4", "7", "9"], holdout_classes=["7"], epochs=1, max_train=90, shifts=[3],
                         device="cpu", runs_dir=str(tmp_path))
    path = train(config, log=lambda line: None)
    assert rundir.read_status(path)["state"] == rundir.FINISHED
    for epoch in (0, 1):
        points = rundir.read_snapshot(path, epoch)
        heldout = points[points.split == "heldout"]
        assert len(heldout) == 500 and set(heldout.class_name) == {"7"} and set(heldout.label) == {1}
        assert heldout["row"].tolist() == list(range(500))
        assert not (points[points.split != "heldout"].class_name == "7").any()
    assert rundir.read_images(path, "heldout").shape == (500, 28, 28)
    assert rundir.read_config(path)["sizes"]["heldout"] == 500
    assert "heldout" not in set(rundir.read_metrics(path).split)  # no k-NN on classes it never saw

    result = cli("training", "train", "--classes", "4", "9", "--holdout-classes", "7", "--runs-dir", str(tmp_path))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "--holdout-classes 7 is not among the chosen --classes" in result.stderr


# ---------------------------------------------------------------- --train-shifts


def test_train_shifts_append_shifted_copies_of_the_training_images():
    data = tiny_data()
    augmented = with_train_shifts(data, [-2, 3])
    n = len(data.train)
    assert len(augmented.train) == 3 * n
    np.testing.assert_array_equal(augmented.train.images[:n], data.train.images)
    copies = augmented.train_copies
    np.testing.assert_array_equal(copies.shift, np.repeat([-2, 3], n))
    np.testing.assert_array_equal(augmented.train.images[n:], shift_images(data.train.images, [-2, 3]).images)
    np.testing.assert_array_equal(augmented.train.labels[n:], data.train.labels[copies.source_index])
    assert not augmented.train.images[n:2 * n, :, -2:].any()  # moved left, zeros coming in
    assert augmented.val is data.val and augmented.test is data.test
    assert (augmented.mean, augmented.std) == (data.mean, data.std)
    assert with_train_shifts(data, []) is data


@pytest.mark.parametrize("options", [
    {"loss": "contrastive"}, {"loss": "triplet", "regime": "nn-other", "nn_k": 3},
    {"loss": "contrastive-3way", "nn_k": 3}, {"loss": "bce", "regime": "nn-non-neighbour", "nn_k": 3},
], ids=lambda o: "-".join(map(str, o.values())))
def test_a_copy_takes_its_sources_tuples_with_the_source_as_its_positive(options):
    config = TrainConfig(**options).validate().resolved("cpu")
    data = tiny_data()
    plain = make_objective(config, data, np.random.default_rng(0)).saved_tuples()
    augmented = with_train_shifts(data, [-3, 3])
    saved = make_objective(config, augmented, np.random.default_rng(0)).saved_tuples()
    n, source = len(data.train), augmented.train_copies.source_index
    for name, rows in plain.items():
        if not name.startswith("train_"):
            np.testing.assert_array_equal(saved[name], rows)  # val and test are drawn as before
            continue
        np.testing.assert_array_equal(saved[name][:len(rows)], rows)  # the originals' tuples as before
        assert len(saved[name]) == 3 * len(rows)
    pairs = saved["train_pairs"]
    for copy, src in enumerate(source):
        own = pairs[pairs[:, 0] == n + copy]
        sources = plain["train_pairs"][plain["train_pairs"][:, 0] == src]
        assert len(own) == len(sources)
        assert {tuple(r) for r in own[own[:, 2] == 1]} == {(n + copy, src, 1)}
        assert sorted(map(tuple, own[own[:, 2] == 0, 1:])) == sorted(map(tuple, sources[sources[:, 2] == 0, 1:]))
    if "train_triplets" in saved:
        triplets = saved["train_triplets"][len(plain["train_triplets"]):]
        of_source = {a: (p, neg) for a, p, neg in plain["train_triplets"]}
        for a, p, neg in triplets:
            assert p == source[a - n] and neg == of_source[source[a - n]][1]
    if "train_pair_types" in saved:
        types = saved["train_pair_types"]
        copies = pairs[:, 0] >= n
        np.testing.assert_array_equal(pairs[copies, 2], types[copies] == 0)  # the source is a true positive
        assert set(types[copies]) <= {0, 1, 2}


@pytest.mark.parametrize("shifts,message", [
    ([0, 3], "--train-shifts must be non-zero shifts smaller than the image, got 0"),
    ([28], "--train-shifts must be non-zero shifts smaller than the image, got 28"),
    ([3, 3], "--train-shifts has a shift twice"),
])
def test_bad_train_shifts_are_refused_in_one_line(shifts, message):
    with pytest.raises(InputError, match=message):
        TrainConfig(train_shifts=shifts).validate()


def test_a_run_trains_on_the_copies_and_stores_them_as_shifted_training_points(tmp_path, cli):
    result = cli("training", "train", "--classes", "4", "9", "--epochs", "1", "--max-train", "60", "--shifts", "3",
                 "--train-shifts", "-4", "4", "--loss", "classifier", "--device", "cpu", "--runs-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    path = result.stdout.strip().splitlines()[-1]
    assert rundir.read_config(path)["train_shifts"] == [-4, 4]
    train = rundir.read_snapshot(path, 1, split="train").sort_values("row")
    images = rundir.read_images(path, "train")
    n = len(train) // 3
    assert train["shift"].tolist() == [0] * n + [-4] * n + [4] * n
    copies = train.iloc[n:]
    assert (train["source_index"].iloc[:n] == -1).all() and copies["source_index"].between(0, n - 1).all()
    sources = train.set_index("row").loc[copies["source_index"]]
    assert copies["class_name"].tolist() == sources["class_name"].tolist()
    for row, source, shift in copies[["row", "source_index", "shift"]].to_numpy()[::n // 3]:
        np.testing.assert_array_equal(images[row], shift_images(images[[source]], [int(shift)]).images[0])
    assert len(rundir.read_images(path, "test")) == len(rundir.read_snapshot(path, 1, split="test"))
