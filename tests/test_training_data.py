import numpy as np
import pytest

from datafiles import write_class_folders, write_idx
from training.config import TrainConfig
from training.data import load_bundled_mnist, load_splits, pixel_stats
from training.errors import InputError


def test_bundled_mnist_has_500_per_digit():
    train, test, names = load_bundled_mnist()
    assert train.images.shape == (5000, 28, 28) and train.images.dtype == np.uint8
    assert test is None and names == [str(d) for d in range(10)]
    assert np.bincount(train.labels).tolist() == [500] * 10


def test_mnist_4_vs_9_is_split_stratified_and_seeded():
    data = load_splits(TrainConfig(classes=["4", "9"], seed=1))
    assert data.class_names == ["4", "9"]
    assert len(data.train) + len(data.val) + len(data.test) == 1000
    assert len(data.test) == 200
    for part in (data.train, data.val, data.test):
        counts = np.bincount(part.labels)
        assert abs(counts[0] - counts[1]) <= 1  # 500 of each digit, split in the same shares
    again = load_splits(TrainConfig(classes=["4", "9"], seed=1))
    other = load_splits(TrainConfig(classes=["4", "9"], seed=2))
    np.testing.assert_array_equal(data.test.images, again.test.images)
    assert not np.array_equal(data.test.images, other.test.images)


def test_mean_and_std_come_from_the_chosen_training_subset():
    data = load_splits(TrainConfig(classes=["4", "9"]))
    pixels = data.train.images.astype(np.float64) / 255
    assert data.mean == pytest.approx(pixels.mean())
    assert data.std == pytest.approx(pixels.std())
    everything, _, _ = load_bundled_mnist()
    assert data.mean != pytest.approx(pixel_stats(everything.images)[0], abs=1e-3)
    normalised = data.normalise(data.train.images)
    assert normalised.mean() == pytest.approx(0, abs=1e-4)
    assert normalised.std() == pytest.approx(1, abs=1e-3)


def test_mnist_idx_files_are_read_from_the_data_dir(tmp_path):
    write_idx(tmp_path / "MNIST" / "raw")
    data = load_splits(TrainConfig(data_dir=str(tmp_path), classes=["1", "2"]))
    assert len(data.test) == 4  # the IDX test split is kept as it is: 2 of each class
    assert data.class_names == ["1", "2"]


@pytest.mark.parametrize("layout", ["flat", "raw", "FashionMNIST/raw"])
def test_fashion_mnist_idx_layouts(tmp_path, layout):
    folder = tmp_path if layout == "flat" else tmp_path / layout
    write_idx(folder)
    data = load_splits(TrainConfig(dataset="fashion-mnist", data_dir=str(tmp_path),
                                   classes=["Trouser", "7"]))
    assert data.class_names == ["Trouser", "Sneaker"]


def test_missing_idx_files_are_named(tmp_path):
    with pytest.raises(InputError, match=r"train-images-idx3-ubyte.*t10k-labels-idx1-ubyte.*"):
        load_splits(TrainConfig(data_dir=str(tmp_path)))


def test_an_incomplete_set_of_gzipped_idx_files_names_the_missing_ones(tmp_path):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(InputError, match="incomplete.*train-labels-idx1-ubyte, t10k-images-idx3-ubyte"):
        load_splits(TrainConfig(dataset="fashion-mnist", data_dir=str(tmp_path)))


def test_folder_images_become_grayscale_squares(tmp_path):
    write_class_folders(tmp_path)
    data = load_splits(TrainConfig(dataset="folder", data_dir=str(tmp_path), image_size=20,
                                   classes=["beta", "gamma"], test_fraction=0.25))
    assert data.class_names == ["beta", "gamma"]
    assert data.train.images.shape[1:] == (20, 20) and data.train.images.dtype == np.uint8
    assert len(data.test) == 6


def test_unknown_class_lists_the_known_ones(tmp_path):
    write_class_folders(tmp_path)
    with pytest.raises(InputError, match="unknown class 'delta'.*alpha, beta, gamma"):
        load_splits(TrainConfig(dataset="folder", data_dir=str(tmp_path), classes=["delta", "beta"]))


def test_undecodable_image_is_named(tmp_path):
    write_class_folders(tmp_path)
    (tmp_path / "alpha" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="broken.png"):
        load_splits(TrainConfig(dataset="folder", data_dir=str(tmp_path)))


@pytest.mark.parametrize("sizes,fraction", [([500, 500], 0.2), ([7, 30, 3], 0.25), ([2, 2], 0.1), ([90, 10], 0.5)])
def test_stratified_split_holds_out_each_class_in_proportion_and_never_empties_one(sizes, fraction):
    from training.data import ImageSet, stratified_split

    labels = np.repeat(np.arange(len(sizes)), sizes)
    data = ImageSet(np.arange(len(labels), dtype=np.uint8)[:, None, None].repeat(2, 1).repeat(2, 2), labels)
    rest, held = stratified_split(data, fraction, seed=0, what="test")
    assert len(rest) + len(held) == len(labels)
    for c, n in enumerate(sizes):
        h = int((held.labels == c).sum())
        assert 1 <= h <= n - 1
        assert abs(h - fraction * n) <= 1
    again_rest, again_held = stratified_split(data, fraction, seed=0, what="test")
    np.testing.assert_array_equal(held.images, again_held.images)


def test_a_class_of_one_image_cannot_be_split():
    from training.data import ImageSet, stratified_split

    data = ImageSet(np.zeros((3, 2, 2), np.uint8), np.array([0, 0, 1]))
    with pytest.raises(InputError, match="too few images"):
        stratified_split(data, 0.3, 0, "test")
