"""One training run, top to bottom: data, pairs, model, loop, and the run directory it writes."""

from __future__ import annotations

import platform
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from training import rundir
from training.config import TrainConfig
from training.data import DataSplits, load_splits
from training.errors import Cancelled, InputError
from training.losses import make_loss, pair_distances
from training.model import EmbeddingNet, embed
from training.pairs import draw_split_tuples
from training.shift import shift_images

KNN_NEIGHBOURS = 5
STATUS_EVERY_S = 2.0  # how often status.json is refreshed within an epoch


@dataclass
class Prepared:
    """Everything a run needs before its directory exists; any bad input fails while preparing."""
    config: TrainConfig
    data: DataSplits
    shifted: tuple[np.ndarray, np.ndarray, np.ndarray]  # images, shift, source test index
    tuples: dict[str, np.ndarray]  # "<split>_triplets" and "<split>_pairs" for train, val, test
    device: torch.device


def prepare(config: TrainConfig) -> Prepared:
    config.validate()
    device = resolve_device(config.device)
    data = load_splits(config)
    shifted = shift_images(data.test.images, config.shifts)
    rng = np.random.default_rng(config.seed)
    tuples = {}
    for split in ("train", "val", "test"):
        part = getattr(data, split)
        triplets, pairs = draw_split_tuples(part.images, part.labels, config.regime, config.nn_k,
                                            rng, strict=split == "train")
        tuples[f"{split}_triplets"], tuples[f"{split}_pairs"] = triplets, pairs
    return Prepared(config, data, shifted, tuples, device)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for but no CUDA device is available; use --device cpu")
    return torch.device(name)


def train(config: TrainConfig, log: Callable[[str], None] | None = None,
          run_dir: Path | None = None) -> Path:
    """Prepare, create the run directory, train, and return the run directory.

    Raises InputError before any directory exists. After that, the run ends ``finished``,
    ``cancelled`` (Cancelled is re-raised) or ``failed`` (the exception is re-raised).
    A given ``run_dir`` (made by training.launch) is used instead of a new one, and records
    bad input as a failed run, so whoever launched it can see why.
    """
    log = log or _log_beside_progress_bar
    with cancel_on_signals():
        try:
            prepared = prepare(config)
        except (InputError, Cancelled, KeyboardInterrupt) as e:
            if run_dir is not None:
                cancelled = not isinstance(e, InputError)
                rundir.write_status(run_dir, rundir.CANCELLED if cancelled else rundir.FAILED, 0,
                                    config.epochs, error="cancelled by the user" if cancelled else str(e))
            raise
        run_dir = start_run_dir(prepared, run_dir)
    log(f"run directory: {run_dir}")
    try:
        with cancel_on_signals():
            fit(prepared, run_dir, log)
    except (Cancelled, KeyboardInterrupt):
        _end(run_dir, rundir.CANCELLED, "cancelled by the user")
        raise Cancelled(str(run_dir)) from None
    except BaseException as e:
        _end(run_dir, rundir.FAILED, f"{type(e).__name__}: {e}")
        raise
    return run_dir


def start_run_dir(prepared: Prepared, run_dir: Path | None = None) -> Path:
    config, data = prepared.config, prepared.data
    if run_dir is None:
        run_dir = rundir.new_run_dir(config.runs_dir, config.run_name_hint())
    extra = {}
    if (run_dir / rundir.CONFIG).exists():
        extra = {k: v for k, v in rundir.read_json(run_dir / rundir.CONFIG).items()
                 if k == "launch_fingerprint"}
    shifted_images, _, _ = prepared.shifted
    rundir.write_config(run_dir, {
        **config.to_dict(),
        "class_names": data.class_names,
        "mean": data.mean,
        "std": data.std,
        "sizes": {"train": len(data.train), "val": len(data.val), "test": len(data.test),
                  "shifted": len(shifted_images)},
        "model": {"name": "EmbeddingNet", "args": model_args(prepared)},
        "device_used": str(prepared.device),
        "created_at": time.time(),
        "versions": _versions(),
        **extra,
    })
    rundir.write_status(run_dir, rundir.RUNNING, 0, config.epochs)
    for split, images in (("train", data.train.images), ("test", data.test.images),
                          ("shifted", shifted_images)):
        rundir.write_images(run_dir, split, images)
    rundir.write_pairs(run_dir, prepared.tuples)
    return run_dir


def model_args(prepared: Prepared) -> dict:
    return {"image_size": int(prepared.data.train.images.shape[1]),
            "embedding_dim": prepared.config.embedding_dim}


def fit(prepared: Prepared, run_dir: Path, log: Callable[[str], None]) -> None:
    config, data, device = prepared.config, prepared.data, prepared.device
    torch.manual_seed(config.seed)
    model = EmbeddingNet(**model_args(prepared)).to(device)
    loss_fn = make_loss(config.loss, config.margin)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    images = {split: _to_device(data.normalise(part.images), device) for split, part in
              (("train", data.train), ("val", data.val), ("test", data.test))}
    images["shifted"] = _to_device(data.normalise(prepared.shifted[0]), device)
    kind = "triplets" if config.loss == "triplet" else "pairs"
    train_tuples = torch.from_numpy(prepared.tuples[f"train_{kind}"]).to(device)
    batches = max(1, -(-len(train_tuples) // config.batch_size))
    order_rng = torch.Generator().manual_seed(config.seed)

    metrics: list[dict] = []
    snapshots: list = []
    snapshot(prepared, run_dir, model, loss_fn, images, 0, None, metrics, snapshots, 0.0)
    progress = _progress_bar(config.epochs * batches)
    for epoch in range(1, config.epochs + 1):
        started, last_status, losses = time.time(), time.time(), []
        model.train()
        order = torch.randperm(len(train_tuples), generator=order_rng).to(device)
        for b in range(batches):
            batch = train_tuples[order[b * config.batch_size:(b + 1) * config.batch_size]]
            loss = loss_fn(*_batch_embeddings(model, images["train"], batch, kind))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
            progress.update(1)
            progress.set_postfix(epoch=f"{epoch}/{config.epochs}", loss=f"{losses[-1]:.4f}")
            if time.time() - last_status > STATUS_EVERY_S:
                rundir.write_status(run_dir, rundir.RUNNING, epoch - 1, config.epochs,
                                    step=b + 1, steps=batches)
                last_status = time.time()
        snapshot(prepared, run_dir, model, loss_fn, images, epoch, float(np.mean(losses)),
                 metrics, snapshots, time.time() - started)
        rundir.write_checkpoint(run_dir, {
            "model_name": "EmbeddingNet",
            "model_args": model.constructor_args,
            "model_state": model.state_dict(),
            "optimiser_state": optimiser.state_dict(),
            "epoch": epoch,
            "config": rundir.read_config(run_dir),
        })
        rundir.write_status(run_dir, rundir.RUNNING, epoch, config.epochs, step=batches, steps=batches)
        log(_epoch_line(epoch, config.epochs, metrics))
    progress.close()
    rundir.write_status(run_dir, rundir.FINISHED, config.epochs, config.epochs)


def _batch_embeddings(model, images: torch.Tensor, batch: torch.Tensor, kind: str):
    """One forward pass over all images of the batch's tuples; local index tuples into it."""
    b = len(batch)
    local = torch.arange(b, device=batch.device)
    if kind == "triplets":
        embeddings = model(images[torch.cat([batch[:, 0], batch[:, 1], batch[:, 2]])])
        return embeddings, (local, local + b, local + 2 * b)
    embeddings = model(images[torch.cat([batch[:, 0], batch[:, 1]])])
    return embeddings, (local, local + b, batch[:, 2])


def snapshot(prepared: Prepared, run_dir: Path, model, loss_fn, images: dict, epoch: int,
             train_loss: float | None, metrics: list[dict], snapshots: list, seconds: float) -> None:
    """Embed every split, record the epoch's metrics, and rewrite metrics.csv and embeddings."""
    import pandas as pd
    from sklearn.neighbors import KNeighborsClassifier

    data = prepared.data
    embedded = {split: embed(model, x) for split, x in images.items()}
    labels = {"train": data.train.labels, "val": data.val.labels, "test": data.test.labels,
              "shifted": data.test.labels[prepared.shifted[2]]}
    knn = KNeighborsClassifier(n_neighbors=min(KNN_NEIGHBOURS, len(data.train)))
    knn.fit(embedded["train"].cpu().numpy(), data.train.labels)
    for split in ("train", "val", "test", "shifted"):
        row = {"epoch": epoch, "split": split, "seconds": seconds if split == "train" else None}
        if split != "shifted":
            row.update(_pair_figures(prepared, loss_fn, embedded[split], split))
        if split == "train" and train_loss is not None:
            row["loss"] = train_loss
        if split != "train" and len(labels[split]):
            row["knn_accuracy"] = float(knn.score(embedded[split].cpu().numpy(), labels[split]))
        metrics.append(row)
    rundir.write_metrics(run_dir, metrics)

    shift, source = prepared.shifted[1], prepared.shifted[2]
    for split in ("train", "test", "shifted"):
        snapshots.append(rundir.embedding_frame(
            epoch, split, embedded[split].cpu().numpy(), labels[split], data.class_names,
            shifts=shift if split == "shifted" else None,
            source_index=source if split == "shifted" else None))
    rundir.write_embeddings(run_dir, pd.concat(snapshots, ignore_index=True))


@torch.no_grad()
def _pair_figures(prepared: Prepared, loss_fn, embeddings: torch.Tensor, split: str) -> dict:
    kind = "triplets" if prepared.config.loss == "triplet" else "pairs"
    tuples = torch.from_numpy(prepared.tuples[f"{split}_{kind}"]).to(embeddings.device)
    pairs = torch.from_numpy(prepared.tuples[f"{split}_pairs"]).to(embeddings.device)
    if len(tuples) == 0:
        return {}
    loss = loss_fn(embeddings, tuple(tuples.T))
    d = pair_distances(embeddings, pairs[:, 0], pairs[:, 1])
    similar = pairs[:, 2] == 1
    return {"loss": float(loss), "pos_dist": float(d[similar].mean()),
            "neg_dist": float(d[~similar].mean())}


def _epoch_line(epoch: int, epochs: int, metrics: list[dict]) -> str:
    rows = {r["split"]: r for r in metrics if r["epoch"] == epoch}
    return (f"epoch {epoch}/{epochs}  train loss {rows['train']['loss']:.4f}  "
            f"val loss {rows['val'].get('loss', float('nan')):.4f}  test 5-NN accuracy "
            f"{rows['test'].get('knn_accuracy', float('nan')):.3f}  shifted 5-NN accuracy "
            f"{rows['shifted'].get('knn_accuracy', float('nan')):.3f}")


def _log_beside_progress_bar(line: str) -> None:
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)


def _to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(array).unsqueeze(1).to(device)


def _progress_bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc="training", unit="step", disable=None, dynamic_ncols=True)


def _end(run_dir: Path, state: str, error: str) -> None:
    try:
        epoch = int(rundir.read_json(run_dir / rundir.STATUS).get("epoch", 0))
        epochs = int(rundir.read_config(run_dir)["epochs"])
    except (rundir.RunDirError, KeyError, ValueError):
        epoch, epochs = 0, 0
    rundir.write_status(run_dir, state, epoch, epochs, error=error)


@contextmanager
def cancel_on_signals():
    """Turn SIGTERM into Cancelled for the duration, so the run can record how it ended."""
    def handler(signum, frame):
        raise Cancelled(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _versions() -> dict:
    import torchvision

    return {"python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": np.__version__}
