"""A run stuck at chance, and the likeliest cause for its settings.

After its last epoch a run is stuck when its BCE loss is still at ln 2 (a head that says 0.5 to
every pair), or its test k-NN accuracy is no better than guessing (1 / classes, plus a little).
The cause is read from its options: too few epochs, a learning rate out of the usual range, a
margin unit-length embeddings cannot reach, an embedding too small for a BCE head, or very few
training images. Reads metrics.csv and config.json only.
"""

from __future__ import annotations

import math

import pandas as pd

LN2 = math.log(2)
LOSS_NEAR = 0.01   # a BCE loss within this of ln 2 is at chance
KNN_NEAR = 0.05    # a k-NN accuracy within this of 1 / classes is at chance
FEW_EPOCHS = 3
LR_RANGE = (1e-4, 1e-2)


def _last(metrics: pd.DataFrame, split: str, column: str) -> float | None:
    if not len(metrics) or column not in metrics:
        return None
    rows = metrics[(metrics["split"] == split) & metrics[column].notna()]
    return float(rows.sort_values("epoch")[column].iloc[-1]) if len(rows) else None


def at_chance(config: dict, metrics: pd.DataFrame, n_classes: int) -> list[str]:
    """What shows the run at chance after its last epoch, in words ([] when nothing does)."""
    signs = []
    loss = _last(metrics, "train", "loss")
    if config.get("loss") == "bce" and loss is not None and abs(loss - LN2) <= LOSS_NEAR:
        signs.append(f"its BCE loss is still {loss:.3f}, ln 2 = {LN2:.3f}: the head says 0.5 to every pair")
    knn = _last(metrics, "test", "knn_accuracy")
    if knn is not None and n_classes >= 2 and knn <= 1 / n_classes + KNN_NEAR:
        signs.append(f"its test k-NN accuracy is {knn:.3f}, chance with {n_classes} classes is {1 / n_classes:.3f}")
    return signs


def likely_cause(config: dict) -> str:
    """The likeliest reason, from the run's options, that it did not learn."""
    epochs, lr = int(config.get("epochs") or 0), float(config.get("lr") or 1e-3)
    dim, loss = int(config.get("embedding_dim") or 0), config.get("loss")
    causes = []
    if epochs < FEW_EPOCHS:
        causes.append(f"too few epochs ({epochs}): train for more, e.g. --epochs 10")
    if lr < LR_RANGE[0]:
        causes.append(f"a learning rate of {lr:g} is small: try --lr 1e-3")
    elif lr > LR_RANGE[1]:
        causes.append(f"a learning rate of {lr:g} is large enough to diverge: try --lr 1e-3")
    if loss == "bce" and dim <= 2:
        causes.append(f"a {dim}-D embedding gives the BCE head little to tell pairs apart by: try --embedding-dim 32")
    if config.get("normalize") and float(config.get("margin") or 1.0) > 2:
        causes.append(f"margin {config.get('margin')} is beyond 2, the largest distance between unit-length "
                      f"embeddings: every negative pair costs")
    if config.get("max_train") and int(config["max_train"]) < 200:
        causes.append(f"only {config['max_train']} training images (--max-train)")
    return "; or ".join(causes) if causes else "the learning rate, or too few epochs for this data: train longer"


def stuck_message(config: dict, metrics: pd.DataFrame, n_classes: int, state: str = "finished") -> str | None:
    """One line for a run stuck at chance after its last epoch, with the likeliest cause; None otherwise
    (and for a run still running)."""
    if state == "running":
        return None
    signs = at_chance(config, metrics, n_classes)
    if not signs:
        return None
    return f"Stuck at chance: {'; '.join(signs)}. Likeliest cause: {likely_cause(config)}."


def run_stuck(run) -> str | None:
    """``stuck_message`` of an opened run (explorer.runs.Run); held-out classes are not guessed among."""
    trained = run.n_classes - len(run.config.get("holdout_classes") or [])
    return stuck_message(run.config, run.metrics, trained, run.state)
