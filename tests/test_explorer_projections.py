import numpy as np
import pandas as pd
from pathlib import Path
import pytest
from fakerun import make_fake_run

from explorer import projections
from explorer.projections import check_params, fit_transform, parse_params, projection
from explorer.runs import load_run

FAST_TSNE = {"n_iter": 100, "early_exaggeration_iter": 50, "perplexity": 10}


def blobs(n=150, dim=5, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    centres = 6 * np.eye(3, dim) if dim >= 3 else np.array([[0, 0], [6, 0], [0, 6]])[:, :dim]
    return rng.normal(size=(n, dim)) + centres[labels], labels


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return load_run(make_fake_run(tmp_path_factory.mktemp("runs"), n_classes=3, dim=5, epochs=2))


def test_params_are_checked():
    assert check_params("tsne")["perplexity"] == 30.0
    with pytest.raises(ValueError, match="unknown projection method 'isomap'"):
        check_params("isomap")
    with pytest.raises(ValueError, match="tsne has no parameter n_neighbors"):
        check_params("tsne", {"n_neighbors": 5})
    with pytest.raises(ValueError, match="perplexity must be a positive number"):
        check_params("tsne", {"perplexity": -1})
    with pytest.raises(ValueError, match="metric"):
        check_params("umap", {"metric": "hamming-ish"})


def test_parse_params_types_values():
    assert parse_params("umap", ["n_neighbors=5", "min_dist=0.5", "metric=cosine"]) == {
        "n_neighbors": 5, "min_dist": 0.5, "metric": "cosine", "n_epochs": None}
    with pytest.raises(ValueError, match="name=value"):
        parse_params("umap", ["n_neighbors"])


@pytest.mark.parametrize("method,params", [("pca", {}), ("tsne", FAST_TSNE)])
def test_same_seed_same_map(method, params):
    X, _ = blobs()
    first, (placed_first,) = fit_transform(X[:100], [X[100:]], method, random_state=3, **params)
    second, (placed_second,) = fit_transform(X[:100], [X[100:]], method, random_state=3, **params)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(placed_first, placed_second)
    assert first.shape == (100, 2) and placed_first.shape == (50, 2)


def test_tsne_seed_matters():
    X, _ = blobs()
    a, _ = fit_transform(X, method="tsne", random_state=1, **FAST_TSNE)
    b, _ = fit_transform(X, method="tsne", random_state=2, **FAST_TSNE)
    assert not np.allclose(a, b)


def test_pca_transform_places_training_points_exactly():
    X, _ = blobs()
    fitted, (placed,) = fit_transform(X, [X[:10]], "pca", random_state=0)
    np.testing.assert_allclose(placed, fitted[:10], atol=1e-9)


def test_tsne_transform_places_training_point_next_to_itself():
    X, _ = blobs(n=200)
    fitted, (placed,) = fit_transform(X, [X[:20]], "tsne", random_state=0, **FAST_TSNE)
    spread = np.linalg.norm(fitted.max(0) - fitted.min(0))
    error = np.linalg.norm(placed - fitted[:20], axis=1)
    assert np.median(error) < 0.05 * spread


def test_umap_fits_and_places_training_point_next_to_itself():
    # The one UMAP test: the first fit compiles numba code (10 to 60 s on a cold machine).
    X, _ = blobs(n=120)
    fitted, (placed,) = fit_transform(X, [X[:10]], "umap", random_state=0, n_neighbors=10, n_epochs=50)
    spread = np.linalg.norm(fitted.max(0) - fitted.min(0))
    assert np.median(np.linalg.norm(placed - fitted[:10], axis=1)) < 0.1 * spread


def test_umap_places_new_points_into_their_own_blob_on_exact_neighbours():
    X, labels = blobs(n=150)
    new, new_labels = blobs(n=30, seed=1)
    fitted, (placed,) = fit_transform(X, [new], "umap", random_state=0, n_neighbors=10, n_epochs=50)
    centres = np.array([fitted[labels == c].mean(0) for c in range(3)])
    nearest_centre = np.linalg.norm(placed[:, None] - centres[None], axis=2).argmin(1)
    assert (nearest_centre == new_labels).mean() == 1.0


def test_umap_is_imported_with_numba_caching_its_functions_on_disk():
    umap = projections.import_umap()
    from umap import layouts

    dispatcher = layouts._nb_optimize_layout_euclidean_single_epoch
    assert type(dispatcher._cache).__name__ != "NullCache", "a new process would compile it again"
    import numba
    assert numba.njit.__name__ == "njit"  # the import leaves numba's own decorator in place
    assert umap.UMAP


def test_raw_needs_two_dimensions():
    X, _ = blobs(dim=2)
    fitted, (placed,) = fit_transform(X[:50], [X[50:]], "raw")
    np.testing.assert_array_equal(fitted, X[:50])
    with pytest.raises(ValueError, match="2-D embedding; this one has 5"):
        fit_transform(blobs(dim=5)[0], method="raw")


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        fit_transform(np.full((10, 3), np.nan))
    with pytest.raises(ValueError, match="as many columns"):
        fit_transform(np.ones((10, 3)), [np.ones((2, 4))])


def test_shared_map_fits_train_and_places_the_rest(run):
    frame = projection(run, method="pca", cache=False)
    assert len(frame) == 120 + 60 + 240
    assert {"split", "row", "label", "class_name", "shift", "source_index", "x", "y", "fitted"} <= set(frame)
    assert set(frame.loc[frame["fitted"], "split"]) == {"train"} and frame["fitted"].sum() == 120
    assert np.isfinite(frame[["x", "y"]].to_numpy()).all()
    assert frame.attrs["note"] == "" and frame.attrs["epoch"] == 2 and frame.attrs["mode"] == "shared"


def test_joint_map_fits_every_split(run):
    frame = projection(run, method="pca", mode="joint", cache=False)
    assert frame["fitted"].all()
    with pytest.raises(ValueError, match="mode"):
        projection(run, method="pca", mode="both")


def test_subsample_above_the_cap_is_seeded_and_said(run):
    frame = projection(run, method="pca", max_fit_points=50, cache=False)
    again = projection(run, method="pca", max_fit_points=50, cache=False)
    assert frame["fitted"].sum() == 50 and "subsample" in frame.attrs["note"]
    assert frame["fitted"].equals(again["fitted"])
    assert np.isfinite(frame[["x", "y"]].to_numpy()).all()


def test_projection_is_cached_in_the_run(tmp_path, monkeypatch):
    run = load_run(make_fake_run(tmp_path, dim=3))
    first = projection(run, method="tsne", params=FAST_TSNE, random_state=1)
    files = list((run.path / "projections").glob("tsne-shared-epoch2-seed1-*.parquet"))
    assert len(files) == 1

    def no_refit(*args, **kwargs):
        raise AssertionError("a cached projection was computed again")

    monkeypatch.setattr(projections, "fit_transform", no_refit)
    again = projection(load_run(run.path), method="tsne", params=FAST_TSNE, random_state=1)
    assert again[["x", "y"]].equals(first[["x", "y"]]) and again.attrs["params"] == first.attrs["params"]
    with pytest.raises(AssertionError):  # another seed is another cache entry
        projection(run, method="tsne", params=FAST_TSNE, random_state=2)


def test_damaged_cache_is_recomputed(tmp_path):
    run = load_run(make_fake_run(tmp_path, dim=3))
    frame = projection(run, method="pca")
    path = projections.cache_path(run, 2, "pca", frame.attrs["params"], "shared", 0)
    path.write_bytes(b"broken")
    assert projection(run, method="pca")[["x", "y"]].equals(frame[["x", "y"]])


def test_align_undoes_a_rotation_a_reflection_and_a_shift_without_scaling():
    from explorer.projections import align

    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"split": "train", "row": np.arange(50), "x": rng.normal(size=50),
                              "y": rng.normal(size=50)})
    angle = 1.1
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ np.diag([1, -1])
    moved = reference[["x", "y"]].to_numpy() @ rotation + [3.0, -2.0]
    frame = reference.assign(x=moved[:, 0], y=moved[:, 1]).sample(frac=1, random_state=0)
    aligned = align(frame, reference).sort_values("row")
    np.testing.assert_allclose(aligned[["x", "y"]].to_numpy(), reference[["x", "y"]].to_numpy(), atol=1e-9)
    spread = lambda f: np.ptp(f[["x", "y"]].to_numpy(), axis=0).sum()
    assert spread(aligned) == pytest.approx(spread(reference))


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_replay_gives_every_epoch_aligned_to_the_one_before_and_caches_it(tmp_path, method):
    from explorer.projections import replay

    run = load_run(make_fake_run(tmp_path, epochs=3, dim=4, n_train=90, n_test=30))
    params = {"n_iter": 50, "early_exaggeration_iter": 25} if method == "tsne" else {}
    series = replay(run, method=method, params=params)
    assert sorted(series["epoch"].unique()) == run.epochs
    assert len(series) == sum(len(run.points(e)) for e in run.epochs)
    assert list(Path(run.path, "projections").glob("replay-*.parquet"))
    again = replay(run, method=method, params=params)
    pd.testing.assert_frame_equal(series, again)
    # each map lies on the one before better than its mirror image would
    for before, after in zip(run.epochs[1:], run.epochs[2:]):
        a = series[series.epoch == before].set_index(["split", "row"])[["x", "y"]]
        b = series[series.epoch == after].set_index(["split", "row"])[["x", "y"]].loc[a.index]
        direct = np.linalg.norm(a.to_numpy() - b.to_numpy())
        mirrored = np.linalg.norm(a.to_numpy() - b.to_numpy() * [-1, 1])
        assert direct <= mirrored
