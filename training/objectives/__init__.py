"""Training methods, registered in one place: ``METHODS``. The loop (training.loop) knows none by name.

A method is an ``Objective`` subclass (see ``base``): a sampler that yields index tuples for each
batch, a loss over the batch's embeddings, optional per-epoch hooks and extra outputs. Adding a
method means writing one such class and adding one line here; the loop, the CLI's ``--loss``
choices and the app's form follow. This module imports no torch, so the CLI and the app can list
the methods without it.
"""

from __future__ import annotations

from importlib import import_module

# name: (module, class, one line for --help and the app's form)
METHODS: dict[str, tuple[str, str, str]] = {
    "contrastive": ("training.objectives.pairwise", "Contrastive",
                    "seed 000: ½·y·d² + ½·(1−y)·max(0, m − d)² on the regime's pairs"),
    "triplet": ("training.objectives.pairwise", "Triplet",
                "seed 004: max(d(a, p) − d(a, n) + m, 0) on the regime's triplets"),
}


def objective_class(name: str):
    module, cls, _ = METHODS[name]
    return getattr(import_module(module), cls)


def make_objective(config, data, rng):
    """The objective that ``config.loss`` names, built on the run's data."""
    return objective_class(config.loss)(config, data, rng)
