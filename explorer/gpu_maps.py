"""2-D maps on a CUDA GPU: UMAP and t-SNE with torchdr, fed by an exact k-NN graph built with torch.

This module owns the GPU path of ``explorer.projections``: ``cuda_available()``, the exact chunked
``knn_graph`` and ``fit_gpu``, which returns ``(map, transform)`` like the other ``_fit_*``
functions. It runs on the CPU too (``device="cpu"``), which is how the tests check it.

- The k-NN graph is exact: each chunk of query rows gets its distances to every point with one
  matrix product, keeps its k smallest with ``topk`` and is dropped, so memory holds
  ``chunk × n`` distances at most, never ``n × n``.
- torchdr (0.5) takes no ready-made sparse graph: its ``affinity_in="precomputed"`` means a dense
  n × n matrix, and its own neighbour search is faiss (not installed here) or a dense torch
  matrix. Its sparse affinities (``UMAPAffinity``, ``EntropicAffinity``) ask for neighbours
  through one method, ``SparseAffinity._distance_matrix(X, k, return_indices)``; ``_feed_graph``
  answers that call from our graph.
- ``umap`` is torchdr's ``UMAP``: sparse, negatives sampled. ``tsne`` is torchdr's ``InfoTSNE``
  (t-SNE's perplexity affinity and Cauchy kernel, the repulsion estimated from sampled negatives,
  Damrich et al. 2022), since torchdr's ``TSNE`` computes the repulsion over all n² pairs.
- ``transform`` places each new point at the median (per coordinate) of the map positions of its
  ``PLACE_NEIGHBORS`` nearest fitted points, found with the same exact search; placed points are
  not optimised further, so t-SNE's ``transform_iter`` has no effect here.
"""

from __future__ import annotations

import functools
import os
import shutil

import numpy as np

METRICS = ("euclidean", "cosine")
PLACE_NEIGHBORS = 15  # fitted neighbours whose median position places a new point
CHUNK_ELEMENTS = {"cuda": 1 << 28, "cpu": 1 << 24}  # distances held at once: 1 GiB, 64 MiB of float32
NO_CUDA = "device='cuda' needs a CUDA GPU; none was found (use device='cpu' or 'auto')"


@functools.cache
def cuda_available() -> bool:
    """Whether torch can use a CUDA GPU; torch is imported only where an NVIDIA driver is seen."""
    if not (os.path.exists("/proc/driver/nvidia") or shutil.which("nvidia-smi")):
        return False
    import torch

    return torch.cuda.is_available()


def knn_graph(X, k: int, device: str = "cpu", chunk: int | None = None, metric: str = "euclidean",
              queries=None):
    """Exact k nearest neighbours as torch tensors on ``device``: (indices, distances), each
    (n_queries, k), closest first.

    Without ``queries`` the points of X are their own queries and each is left out of its own
    neighbours. ``chunk`` is the number of query rows per step (default: as many as keep
    ``CHUNK_ELEMENTS`` distances). Cosine distance is 1 − cos.
    """
    import torch

    if metric not in METRICS:
        raise ValueError(f"the GPU path supports metric {' or '.join(METRICS)}, not {metric!r}")
    reference = _prepared(X, metric, device)
    exclude_self = queries is None
    queries = reference if exclude_self else _prepared(queries, metric, device)
    available = len(reference) - exclude_self
    if not 1 <= k <= available:
        raise ValueError(f"k must be between 1 and {available}, got {k}")
    if chunk is None:
        chunk = max(1, CHUNK_ELEMENTS[torch.device(device).type] // len(reference))
    squared = (reference * reference).sum(1)
    indices = torch.empty((len(queries), k), dtype=torch.int64, device=device)
    distances = torch.empty((len(queries), k), dtype=torch.float32, device=device)
    with torch.inference_mode():
        for start in range(0, len(queries), chunk):
            q = queries[start:start + chunk]
            # ‖x‖² − 2·q·x: the same order along each row as ‖q − x‖², one pass cheaper
            d = torch.addmm(squared[None, :], q, reference.T, alpha=-2)
            if exclude_self:
                rows = torch.arange(len(q), device=device)
                d[rows, rows + start] = float("inf")
            nearest, found = torch.topk(d, k, dim=1, largest=False, sorted=True)
            del d
            nearest = (nearest + (q * q).sum(1, keepdim=True)).clamp_(min=0)
            indices[start:start + chunk] = found
            distances[start:start + chunk] = nearest / 2 if metric == "cosine" else nearest.sqrt()
    return indices, distances


def _prepared(X, metric: str, device: str):
    """X as a float32 tensor on ``device``; unit rows for cosine (‖a − b‖² = 2 − 2·cos)."""
    import torch

    X = torch.as_tensor(np.asarray(X, np.float32) if not torch.is_tensor(X) else X,
                        dtype=torch.float32, device=device)
    if X.ndim != 2:
        raise ValueError(f"points must be a 2-D array (points x dimensions), got shape {tuple(X.shape)}")
    if metric == "cosine":
        X = X / X.norm(dim=1, keepdim=True).clamp(min=1e-12)
    return X


def fit_gpu(X, method: str, random_state: int | None = None, report=None, init=None,
            device: str = "cuda", **params):
    """Fit torchdr's UMAP or InfoTSNE on X on ``device``: (the (n, 2) map, transform).

    ``params`` are the project's (``explorer.projections.METHODS``), defaults filled in. They map
    onto torchdr's as: n_neighbors, min_dist → UMAP's; n_epochs → ``max_iter`` (None: 500 up to
    10,000 points, else 200, as umap-learn); perplexity → InfoTSNE's (a whole number, at most
    (n − 1) / 3 as on the CPU); early_exaggeration_iter + n_iter → ``max_iter`` with the first
    early_exaggeration_iter exaggerated 12 times; learning_rate → ``lr``; metric → the k-NN graph.
    t-SNE's negative_gradient_method and transform_iter are openTSNE's and are not used here.
    """
    from explorer.projections import check_params

    if method not in ("umap", "tsne"):
        raise ValueError(f"the GPU path maps with umap or tsne, not {method!r}")
    if device == "cuda" and not cuda_available():
        raise ValueError(NO_CUDA)
    params = check_params(method, params)
    if params["metric"] not in METRICS:
        raise ValueError(f"the GPU path supports metric {' or '.join(METRICS)}, not "
                         f"{params['metric']!r}; use device='cpu'")
    report = report or (lambda fraction, message: None)
    X = _prepared(X, "euclidean", device)  # the graph normalises for cosine itself
    build = _umap if method == "umap" else _info_tsne
    model, k, squared = build(len(X), init, device, **params)
    name = type(model).__name__
    report(0.0, f"{name} on {device}: the exact {k} nearest neighbours of {len(X)} points")
    indices, distances = knn_graph(X, k, device, metric=params["metric"])
    _feed_graph(model, indices, distances ** 2 if squared else distances)
    report(0.2, f"{name} on {device}: {model.max_iter} iterations")
    Y = _seeded(functools.partial(model.fit_transform, X), random_state, device)
    Y = Y.detach()
    del model, indices, distances

    def transform(x):
        k = min(PLACE_NEIGHBORS, len(X))
        nearest, _ = knn_graph(X, k, device, metric=params["metric"], queries=x)
        return Y[nearest].median(dim=1).values.cpu().numpy().astype(np.float64)

    return Y.cpu().numpy().astype(np.float64), transform


def _umap(n, init, device, n_neighbors, min_dist, metric, n_epochs):
    from torchdr import UMAP

    n_neighbors = min(n_neighbors, n - 2)  # torchdr's bound; umap-learn lowers it likewise
    if n_neighbors < 2:
        raise ValueError(f"the GPU UMAP needs at least 4 points, got {n}")
    if n_epochs is None:
        n_epochs = 500 if n <= 10_000 else 200
    model = UMAP(n_neighbors=n_neighbors, min_dist=min_dist, max_iter=int(n_epochs), **_common(init, device))
    return model, n_neighbors - 1, False  # torchdr counts the point itself among its n_neighbors


def _info_tsne(n, init, device, perplexity, n_iter, early_exaggeration_iter, learning_rate, dof,
               metric, transform_iter, negative_gradient_method):
    from torchdr import InfoTSNE

    if dof != 1:
        raise ValueError(f"the GPU t-SNE has the Cauchy kernel only (dof=1), not dof={dof}; use device='cpu'")
    if perplexity != int(perplexity) or perplexity < 2:
        raise ValueError(f"the GPU t-SNE needs a whole perplexity of at least 2, got {perplexity}")
    perplexity = min(int(perplexity), (n - 1) // 3)
    if perplexity < 2:
        raise ValueError(f"the GPU t-SNE needs at least 7 points, got {n}")
    model = InfoTSNE(perplexity=perplexity, lr=learning_rate, early_exaggeration_coeff=12,
                     early_exaggeration_iter=early_exaggeration_iter,
                     max_iter=early_exaggeration_iter + n_iter, **_common(init, device))
    return model, 3 * perplexity, True  # EntropicAffinity: 3 × perplexity squared distances


def _common(init, device) -> dict:
    """torchdr options shared by both maps. Seeds are set around the fit (``_seeded``), not
    through torchdr's ``random_state``, which reseeds Python's and NumPy's global generators."""
    return {"init": "pca" if init is None else np.asarray(init, np.float32), "device": device,
            "backend": None, "process_duplicates": False, "distributed": False, "verbose": False}


def _feed_graph(model, indices, distances) -> None:
    """Make the model's sparse input affinity take its neighbours from our graph: torchdr asks
    for them through ``affinity._distance_matrix(X, k, return_indices=True)``."""
    def neighbours(X, k=None, return_indices=False):
        k = int(k)
        if k > indices.shape[1]:
            raise RuntimeError(f"torchdr asked for {k} neighbours; the graph holds {indices.shape[1]}")
        return distances[:, :k], indices[:, :k]

    model.affinity_in._distance_matrix = neighbours


def _seeded(fit, random_state, device):
    """Run ``fit`` with torch's generators seeded, and restore them afterwards."""
    import torch

    if random_state is None:
        return fit()
    devices = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(random_state)
        return fit()
