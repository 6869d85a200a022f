"""``python -m explorer export RUN --tensorboard DIR``: a run for TensorBoard, written in its own
formats with the ``tensorboard`` package (no torch, no TensorFlow).

- The projector: the snapshot's embeddings of the chosen splits as ``tensors.tsv``, one row per
  point; ``metadata.tsv`` with its label (class name), split, shift and k-NN verdict (right,
  wrong, or "fitted" for the train points the classifier was fitted on); a ``sprite.png`` of the
  points' images; and ``projector_config.pbtxt``, laid out as PyTorch's
  ``SummaryWriter.add_embedding`` lays them out (``DIR/<epoch>/<tag>/``). The projector draws a
  sprite of at most 8192×8192 pixels: beyond that many thumbnails, a seeded subsample of the
  points is exported, and the note says so.
- The scalars: every figure of metrics.csv as ``<split>/<figure>`` at its epoch, and every step's
  training loss as ``train/step_loss`` at its iteration, in one event file.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import runfmt as rundir

SPRITE_LIMIT = 8192  # the projector's largest sprite, pixels a side
PROJECTOR_CONFIG = "projector_config.pbtxt"
FIGURES = ("loss", "pos_dist", "neg_dist", "knn_accuracy")
STEP_TAG = "train/step_loss"


@dataclass
class Written:
    log_dir: Path
    points: int = 0
    scalars: int = 0
    notes: list[str] = field(default_factory=list)


class ScalarWriter:
    """Scalars into one TensorBoard event file of ``log_dir``."""

    def __init__(self, log_dir: Path):
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self._writer = EventFileWriter(str(log_dir))

    def add(self, tag: str, value: float, step: int, wall_time: float | None = None) -> None:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary

        summary = Summary(value=[Summary.Value(tag=tag, simple_value=float(value))])
        self._writer.add_event(Event(summary=summary, step=int(step), wall_time=wall_time or time.time()))

    def add_metrics(self, rows: pd.DataFrame) -> int:
        """metrics.csv rows as ``<split>/<figure>`` scalars; returns how many."""
        count = 0
        for row in rows.to_dict("records"):
            for name in FIGURES:
                value = row.get(name)
                if value is not None and not (isinstance(value, float) and math.isnan(value)):
                    self.add(f"{row['split']}/{name}", value, int(row["epoch"]))
                    count += 1
        return count

    def add_steps(self, steps: pd.DataFrame) -> int:
        for iteration, loss in zip(steps["iteration"], steps["loss"]):
            self.add(STEP_TAG, loss, int(iteration))
        return len(steps)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def export(run, log_dir: Path, epoch: int | None = None, splits: list[str] | None = None,
           max_points: int | None = None, seed: int = 0) -> Written:
    """Write the projector files of one epoch and the run's scalars under ``log_dir``."""
    epoch = run.last_epoch if epoch is None else int(epoch)
    if epoch not in run.epochs:
        raise ValueError(f"epoch {epoch} has no snapshot in {run.name}; available: {run.epochs}")
    splits = splits or run.splits
    unknown = [s for s in splits if s not in run.splits]
    if unknown:
        raise ValueError(f"--splits {unknown[0]} is not a split of {run.name}; it has {', '.join(run.splits)}")
    if max_points is not None and max_points < 1:
        raise ValueError(f"--max-points must be 1 or more, got {max_points}")
    log_dir = Path(log_dir)
    if log_dir.exists() and not log_dir.is_dir():
        raise ValueError(f"--tensorboard {log_dir} is a file: give a folder for TensorBoard's logs")
    log_dir.mkdir(parents=True, exist_ok=True)
    written = Written(log_dir)
    points = _points(run, epoch, splits)
    side = max(max(run.images(s).shape[1:]) for s in splits)
    capacity = (SPRITE_LIMIT // side) ** 2
    limit = min(capacity, max_points or capacity)
    if len(points) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(points), limit, replace=False))
        why = (f"the projector's sprite holds at most {capacity:,} thumbnails of {side} px in "
               f"{SPRITE_LIMIT}×{SPRITE_LIMIT}") if limit == capacity else f"--max-points {max_points}"
        written.notes.append(f"exported a seeded subsample (seed {seed}) of {limit:,} of {len(points):,} points: {why}")
        points = points.iloc[keep].reset_index(drop=True)
    tag = f"{run.name}-{'-'.join(splits)}"
    folder = log_dir / f"{epoch:05d}" / rundir.safe_name(tag, 120)
    folder.mkdir(parents=True, exist_ok=True)
    X = points[rundir.embedding_columns(points)].to_numpy(np.float32)
    np.savetxt(folder / "tensors.tsv", X, delimiter="\t", fmt="%.7g")
    _metadata(points).to_csv(folder / "metadata.tsv", sep="\t", index=False, lineterminator="\n")
    sprite = _sprite([run.images(s)[r] for s, r in zip(points["split"], points["row"])], side)
    from PIL import Image

    Image.fromarray(sprite).save(folder / "sprite.png")
    _add_to_config(log_dir, tag, folder.relative_to(log_dir), side)
    written.points = len(points)
    scalars = ScalarWriter(log_dir)
    try:
        written.scalars = scalars.add_metrics(run.metrics) + scalars.add_steps(run.steps())
    finally:
        scalars.close()
    return written


def _points(run, epoch: int, splits: list[str]) -> pd.DataFrame:
    from explorer.classifiers import classify, knn_correct

    points = run.points(epoch)
    points = points[points["split"].isin(splits)].reset_index(drop=True)
    try:
        verdict = knn_correct(points, classify(run, epoch, ("knn",)))
    except ValueError:  # too few points of a class to fit k-NN: no verdicts
        verdict = pd.Series([None] * len(points))
    points["knn"] = [("fitted" if split == "train" else "") if v is None else ("right" if v else "wrong")
                     for v, split in zip(verdict, points["split"])]
    return points


def _metadata(points: pd.DataFrame) -> pd.DataFrame:
    clean = points["class_name"].astype(str).str.replace(r"[\t\r\n]", " ", regex=True)
    return pd.DataFrame({"label": clean, "split": points["split"], "shift": points["shift"],
                         "knn": points["knn"], "row": points["row"]})


def _sprite(images: list[np.ndarray], side: int) -> np.ndarray:
    """Thumbnails in a square grid, row by row, as the projector reads them; each image padded
    to ``side`` px; white where no point is."""
    n = max(len(images), 1)
    cells = math.ceil(math.sqrt(n))
    sprite = np.full((cells * side, cells * side), 255, np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, cells)
        h, w = image.shape
        sprite[r * side:r * side + h, c * side:c * side + w] = image
    return sprite


def _add_to_config(log_dir: Path, tag: str, folder: Path, side: int) -> None:
    """Add (or replace) the embedding in the projector's config, keeping the others of ``log_dir``."""
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    path = log_dir / PROJECTOR_CONFIG
    config = ProjectorConfig()
    if path.is_file():
        try:
            text_format.Parse(path.read_text(), config)
        except text_format.ParseError as e:
            raise ValueError(f"{path} cannot be read ({e}): remove it or export to another folder") from None
    kept = [e for e in config.embeddings if e.tensor_name != f"{tag}:{folder.parts[0]}"]
    del config.embeddings[:]
    config.embeddings.extend(kept)
    embedding = config.embeddings.add()
    embedding.tensor_name = f"{tag}:{folder.parts[0]}"
    embedding.tensor_path = str(folder / "tensors.tsv")
    embedding.metadata_path = str(folder / "metadata.tsv")
    embedding.sprite.image_path = str(folder / "sprite.png")
    embedding.sprite.single_image_dim.extend([side, side])
    rundir.atomic_write(path, lambda f: f.write(text_format.MessageToString(config)))
