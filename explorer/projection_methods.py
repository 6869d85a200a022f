"""The projection methods, listed once: their names, parameters and defaults, and how each page,
the report and the command lines show them. ``explorer.projections`` computes the maps; everything
else (the app's map and compare pages, the figures' axes, the report's series, the CLI's choices,
the map precomputed when a run finishes) reads this list, so the app's default request is the
precomputed map's by construction. Imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Projection:
    name: str  # as the command lines, the cache files and the app's state name it
    title: str  # as pages and figures title it
    axis: str  # the figures' axis titles: "PC 1", "t-SNE 2", ...
    params: dict = field(default_factory=dict)  # the main parameters and their defaults
    series_epochs: int = 4  # maps in the report's per-epoch series (fast methods show more)
    precomputed: bool = False  # mapped in the background as a run finishes (worth having ready)
    raw_only_2d: bool = False  # shown only for a 2-D embedding (its coordinates as they are)
    imported_only: bool = False  # shown only for a run that brought its own map (explorer import)


PROJECTIONS: dict[str, Projection] = {p.name: p for p in (
    Projection("imported", "imported", "x", {}, series_epochs=1, imported_only=True),  # explorer.importer
    Projection("raw", "raw 2-D", "e", {}, series_epochs=6, raw_only_2d=True),
    Projection("pca", "PCA", "PC", {"whiten": False}, series_epochs=6),
    # A shorter schedule than openTSNE's 250 + 500 iterations: on these well-clustered embeddings
    # it keeps trustworthiness and 2-D k-NN accuracy (bench/projection_speed.py prints both).
    Projection("tsne", "t-SNE", "t-SNE",
               {"perplexity": 30.0, "n_iter": 150, "early_exaggeration_iter": 100, "learning_rate": "auto",
                "dof": 1.0, "metric": "euclidean", "transform_iter": 20, "negative_gradient_method": "fft"},
               precomputed=True),
    Projection("umap", "UMAP", "UMAP", {"n_neighbors": 15, "min_dist": 0.1, "metric": "euclidean",
                                        "n_epochs": None}),
)}

METHODS: dict[str, dict] = {name: p.params for name, p in PROJECTIONS.items()}  # name -> default parameters
TITLES = {name: p.title for name, p in PROJECTIONS.items()}
AXIS_NAMES = {name: p.axis for name, p in PROJECTIONS.items()}
PRECOMPUTED = tuple(name for name, p in PROJECTIONS.items() if p.precomputed)


def methods_for(embedding_dim: int | set, imported: bool = False) -> list[str]:
    """The methods a page offers for embeddings of this size (a set: several runs' sizes), the
    first being the default: the map an imported run brought along, raw 2-D where every embedding
    is 2-D, then the others in order."""
    two_d = embedding_dim == {2} if isinstance(embedding_dim, set) else embedding_dim == 2
    return [name for name, p in PROJECTIONS.items()
            if (two_d or not p.raw_only_2d) and (imported or not p.imported_only)]


def default(method: str, param: str):
    """A parameter's default, e.g. for the app's slider."""
    return PROJECTIONS[method].params[param]
