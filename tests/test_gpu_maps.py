"""The GPU path of the maps (explorer.gpu_maps), run on the CPU: CI has no GPU."""

import numpy as np
import pytest
from fakerun import make_fake_run
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

from explorer import gpu_maps, projections
from explorer.projections import cache_path, fit_transform, projection
from explorer.runs import load_run


def blobs(per_blob=100, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, dim)) * 6
    labels = np.repeat(np.arange(3), per_blob)
    return centres[labels] + rng.normal(size=(len(labels), dim)), labels, centres


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_knn_graph_is_exact_in_chunks(metric):
    X = np.random.default_rng(1).normal(size=(203, 7))
    queries = np.random.default_rng(2).normal(size=(31, 7))
    for q, k in [(None, 6), (queries, 4)]:
        indices, distances = gpu_maps.knn_graph(X, k, "cpu", chunk=50, metric=metric, queries=q)
        reference = NearestNeighbors(n_neighbors=k, metric=metric).fit(X)
        want_d, want_i = reference.kneighbors(q)  # q None: each point's neighbours but itself
        np.testing.assert_array_equal(indices.numpy(), want_i)
        np.testing.assert_allclose(distances.numpy(), want_d, atol=1e-4)


@pytest.mark.parametrize("method, params", [("umap", {"n_epochs": 200}),
                                            ("tsne", {"n_iter": 100, "early_exaggeration_iter": 50})])
def test_blobs_stay_apart_and_new_points_land_on_their_blob(method, params):
    X, labels, centres = blobs()
    Y, transform = gpu_maps.fit_gpu(X, method, random_state=0, device="cpu", **params)
    assert Y.shape == (len(X), 2) and np.isfinite(Y).all()
    accuracy = KNeighborsClassifier(5).fit(Y[::2], labels[::2]).score(Y[1::2], labels[1::2])
    assert accuracy >= 0.95

    new = centres[1] + np.random.default_rng(3).normal(size=(12, X.shape[1]))
    placed = transform(new)
    blob_centres = np.array([np.median(Y[labels == c], axis=0) for c in range(3)])
    nearest_blob = np.linalg.norm(placed[:, None] - blob_centres[None], axis=2).argmin(axis=1)
    assert (nearest_blob == 1).all()


def test_same_seed_same_umap_and_parameters_reach_torchdr():
    X, _, _ = blobs(per_blob=40)
    first, _ = gpu_maps.fit_gpu(X, "umap", random_state=3, device="cpu", n_epochs=30)
    again, _ = gpu_maps.fit_gpu(X, "umap", random_state=3, device="cpu", n_epochs=30)
    np.testing.assert_array_equal(first, again)
    model, k, squared = gpu_maps._umap(len(X), None, "cpu", n_neighbors=8, min_dist=0.3,
                                       metric="cosine", n_epochs=None)
    assert (model.n_neighbors, model.min_dist, model.max_iter, k, squared) == (8, 0.3, 500, 7, False)
    model, k, squared = gpu_maps._info_tsne(len(X), None, "cpu", 10.0, 70, 30, "auto", 1.0,
                                            "euclidean", 20, "fft")
    assert (model.perplexity, model.max_iter, model.early_exaggeration_iter, k, squared) == (10, 100, 30, 30, True)


def test_parameters_the_gpu_cannot_honour_are_refused():
    X, _, _ = blobs(per_blob=10)
    with pytest.raises(ValueError, match="metric euclidean or cosine, not 'manhattan'"):
        gpu_maps.fit_gpu(X, "umap", device="cpu", metric="manhattan")
    with pytest.raises(ValueError, match="dof=1"):
        gpu_maps.fit_gpu(X, "tsne", device="cpu", dof=0.5)
    with pytest.raises(ValueError, match="whole perplexity"):
        gpu_maps.fit_gpu(X, "tsne", device="cpu", perplexity=7.5)
    with pytest.raises(ValueError, match="umap or tsne, not 'pca'"):
        gpu_maps.fit_gpu(X, "pca", device="cpu")


def test_cuda_asked_for_without_cuda_says_so(monkeypatch):
    monkeypatch.setattr(gpu_maps, "cuda_available", lambda: False)
    X, _, _ = blobs(per_blob=10)
    message = "device='cuda' needs a CUDA GPU; none was found (use device='cpu' or 'auto')"
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fit_transform(X, method="umap", device="cuda")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        fit_transform(X, method="umap", device="gpu")
    assert projections.resolve_device("auto", "umap") == "cpu"
    assert projections.resolve_device("cpu", "tsne") == "cpu"


def test_cache_key_and_attrs_carry_the_device(tmp_path, monkeypatch):
    run = load_run(make_fake_run(tmp_path, n_classes=3, dim=5, epochs=1))
    params = projections.check_params("umap")
    on_cpu = cache_path(run, 1, "umap", params, "shared", 0)
    assert cache_path(run, 1, "umap", params, "shared", 0, device="cpu") == on_cpu
    assert cache_path(run, 1, "umap", params, "shared", 0, device="cuda") != on_cpu

    # The GPU path, pretended: CUDA "present", torchdr run on the CPU in its place.
    monkeypatch.setattr(gpu_maps, "cuda_available", lambda: True)
    fit_gpu = gpu_maps.fit_gpu
    monkeypatch.setattr(gpu_maps, "fit_gpu", lambda *a, **kw: fit_gpu(*a, **{**kw, "device": "cpu"}))
    frame = projection(run, 1, "umap", {"n_epochs": 20}, device="auto")
    assert frame.attrs["device"] == "cuda" and frame["fitted"].any()
    assert "on the GPU with torchdr's UMAP" in frame.attrs["note"]  # the app and the report show it
    path = cache_path(run, 1, "umap", frame.attrs["params"], "shared", 0, device="cuda")
    assert path.is_file() and path != cache_path(run, 1, "umap", frame.attrs["params"], "shared", 0)
    assert projection(run, 1, "pca").attrs["device"] == "cpu"


def test_cli_project_takes_device(tmp_path, capsys):
    from explorer.cli import main

    run_dir = make_fake_run(tmp_path, n_classes=3, dim=5, epochs=1)
    assert main(["project", str(run_dir), "--method", "umap", "--device", "cuda"]) == 2
    assert "device='cuda' needs a CUDA GPU" in capsys.readouterr().err
    assert main(["project", str(run_dir), "--method", "pca", "--device", "auto"]) == 0
    assert capsys.readouterr().out.strip().endswith(".parquet")
