"""The training loop. It knows no method by name: the objective draws the batches and prices them.

Per epoch: the objective's hook, then for each batch forward, backward and step (in the chosen
precision, with no host sync except every few steps for the progress bar), then the recorder's
metrics and snapshot, a checkpoint, and the status. Everything a resumed run needs is in the
checkpoint, so ``--resume`` continues exactly where the last complete epoch ended. A method with
nothing to train (no trainable parameters, no batches) still goes through every epoch: each records
its metrics and snapshot, with no steps and no optimiser.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from training import rundir
from training.checkpoint import restore_rng_states, rng_states
from training.distributed import Ranks
from training.model import Network, embed
from training.snapshot import Recorder, SplitTensors

STATUS_EVERY_S = 2.0  # how often status.json is refreshed within an epoch
PROGRESS_EVERY = 20  # steps between reads of the running loss (each read waits for the device)


@dataclass
class Engine:
    """What one training process holds while it trains; a checkpoint saves all of it."""
    network: Network
    optimiser: torch.optim.Optimizer | None  # None when nothing is trainable
    generator: torch.Generator  # draws the batches, on the training device
    rng: np.random.Generator  # the objective's host-side draws
    epoch: int = 0  # the last complete epoch

    def checkpoint(self, objective, config: dict) -> dict:
        return {
            "model_name": type(self.network.backbone).__name__,
            "backbone": self.network.backbone.name,  # training.backbones.build(backbone, **model_args)
            "model_args": self.network.backbone.constructor_args,
            "model_state": self.network.backbone.state_dict(),
            "extra_state": self.network.extra.state_dict(),
            "optimiser_state": self.optimiser.state_dict() if self.optimiser else {},
            "objective_state": objective.state_dict(),
            "rng": rng_states(self.generator, self.rng),
            "epoch": self.epoch,
            "config": config,
        }

    def restore(self, checkpoint: dict, objective) -> None:
        self.network.backbone.load_state_dict(checkpoint["model_state"])
        self.network.extra.load_state_dict(checkpoint.get("extra_state", {}))
        if self.optimiser:
            self.optimiser.load_state_dict(checkpoint["optimiser_state"])
        objective.load_state_dict(checkpoint.get("objective_state", {}))
        restore_rng_states(checkpoint["rng"], self.generator, self.rng)
        self.epoch = int(checkpoint["epoch"])


def build_engine(prepared, model_args: dict) -> Engine:
    config, device = prepared.config, prepared.device
    torch.manual_seed(config.seed)
    objective = prepared.objective
    network = Network(objective.backbone(model_args), objective.modules()).to(device)
    if device.type == "cuda":
        network = network.to(memory_format=torch.channels_last)
    trainable = [p for p in network.parameters() if p.requires_grad]  # --freeze leaves the head
    optimiser = torch.optim.Adam(trainable, lr=config.lr, fused=device.type == "cuda") if trainable else None
    generator = torch.Generator(device=device).manual_seed(config.seed)
    return Engine(network, optimiser, generator, prepared.rng)


def fit(prepared, engine: Engine, run_dir: Path | None, ranks: Ranks,
        log: Callable[[str], None]) -> None:
    """Train from ``engine.epoch`` to the configured epochs. ``run_dir`` is None on ranks > 0."""
    config, objective, device = prepared.config, prepared.objective, prepared.device
    splits = split_tensors(prepared)
    objective.to(device)
    recorder = Recorder(run_dir, config, prepared.data.class_names, splits, objective) if ranks.main else None
    trained = compiled(ranks.wrap(engine.network, device), config.compile) if engine.optimiser else engine.network
    autocast = precision_context(config.precision, device)
    steps = objective.steps_per_epoch()
    backbone = engine.network.backbone

    saved_config = rundir.read_config(run_dir) if recorder else None  # goes into every checkpoint
    if engine.epoch == 0 and recorder:
        recorder.record(0, backbone, None, 0.0)
    progress = _progress_bar(config.epochs * steps, engine.epoch * steps, disable=not ranks.main)
    for epoch in range(engine.epoch + 1, config.epochs + 1):
        started = last_status = time.time()
        objective.on_epoch_start(epoch, lambda split: embed(backbone, splits[split].images))
        engine.network.train()
        total, step_losses = torch.zeros((), device=device), []
        for step, batch in enumerate(objective.batches(epoch, engine.generator), start=1):
            loss = train_step(objective, trained, engine.optimiser, splits["train"].images,
                              ranks.shard(batch), autocast)
            total += loss
            step_losses.append(loss)
            progress.update(1)
            if step % PROGRESS_EVERY == 0 or step == steps:
                progress.set_postfix(epoch=f"{epoch}/{config.epochs}", loss=f"{float(total) / step:.4f}")
            if recorder and time.time() - last_status > STATUS_EVERY_S:
                rundir.write_status(run_dir, rundir.RUNNING, epoch - 1, config.epochs, step=step, steps=steps)
                last_status = time.time()
        step_losses = ranks.mean(torch.stack(step_losses)).cpu().tolist() if step_losses else []
        train_loss = sum(step_losses) / len(step_losses) if step_losses else None
        engine.epoch = epoch
        if recorder:
            if step_losses:
                rundir.append_steps(run_dir, epoch, (epoch - 1) * steps + 1, step_losses)
            rows = recorder.record(epoch, backbone, train_loss, time.time() - started)
            rundir.write_checkpoint(run_dir, engine.checkpoint(objective, saved_config))
            rundir.write_status(run_dir, rundir.RUNNING, epoch, config.epochs, step=steps, steps=steps)
            log(epoch_line(epoch, config.epochs, rows))
        ranks.barrier()
    progress.close()


def train_step(objective, network, optimiser, images: torch.Tensor, batch: torch.Tensor,
               autocast) -> torch.Tensor:
    """One optimiser step on one batch; returns the loss, still on the device (no host sync)."""
    with autocast:
        loss = objective.loss(network, images, batch)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return loss.detach()


def split_tensors(prepared) -> dict[str, SplitTensors]:
    """Every split as one normalised tensor on the device: batches are drawn by indexing."""
    data, device = prepared.data, prepared.device

    def tensors(images: np.ndarray, labels: np.ndarray, **extra) -> SplitTensors:
        x = torch.from_numpy(data.normalise(images)).unsqueeze(1).to(device)
        return SplitTensors(x, torch.from_numpy(np.asarray(labels, np.int64)).to(device), **extra)

    shifted, copies = prepared.shifted, data.train_copies
    train_shift = train_source = None
    if copies is not None:  # --train-shifts: the copies follow the original images
        originals = len(data.train) - len(copies.images)
        train_shift = np.concatenate([np.zeros(originals, np.int32), copies.shift])
        train_source = np.concatenate([np.full(originals, -1, np.int64), copies.source_index])
    splits = {
        "train": tensors(data.train.images, data.train.labels, shift=train_shift, source_index=train_source),
        "val": tensors(data.val.images, data.val.labels),
        "test": tensors(data.test.images, data.test.labels),
        "shifted": tensors(shifted.images, data.test.labels[shifted.source_index],
                           shift=shifted.shift, source_index=shifted.source_index),
    }
    if data.heldout is not None:
        splits["heldout"] = tensors(data.heldout.images, data.heldout.labels)
    return splits


def precision_context(precision: str, device: torch.device):
    """Autocast for bf16; TF32 matmuls for tf32 and bf16; plain fp32 otherwise."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # every batch has the same shape: tune once
    if device.type == "cuda" and precision in ("tf32", "bf16"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def compiled(network: torch.nn.Module, enabled: bool) -> torch.nn.Module:
    return torch.compile(network) if enabled else network


def epoch_line(epoch: int, epochs: int, rows: dict[str, dict]) -> str:
    def figure(split: str, name: str) -> float:
        value = rows.get(split, {}).get(name)
        return float("nan") if value is None else value

    return (f"epoch {epoch}/{epochs}  train loss {figure('train', 'loss'):.4f}  "
            f"val loss {figure('val', 'loss'):.4f}  test 5-NN accuracy "
            f"{figure('test', 'knn_accuracy'):.3f}  shifted 5-NN accuracy "
            f"{figure('shifted', 'knn_accuracy'):.3f}")


def _progress_bar(total: int, done: int, disable: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc="training", unit="step",
                disable=True if disable else None, dynamic_ncols=True)
