"""Pairs per second of one training epoch: a per-item PIL/ToTensor DataLoader vs the data set held
as one tensor and indexed by batch (what training/trainer.py does).

    .venv/bin/python bench/bench_batches.py [--device cpu|cuda] [--rounds 3]

Both ways train the same starter CNN with the same contrastive loss on the same pairs (MNIST 4 vs 9
from the bundled sample); the script prints pairs/s of each and their ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.config import TrainConfig  # noqa: E402
from training.data import load_splits  # noqa: E402
from training.losses import ContrastiveLoss  # noqa: E402
from training.model import EmbeddingNet  # noqa: E402
from training.pairs import draw_split_tuples  # noqa: E402


class PairDataset(Dataset):
    """The textbook way: each item is a pair of PIL images turned into tensors one by one."""

    def __init__(self, images, pairs, mean, std):
        self.images, self.pairs = images, pairs
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((mean,), (std,))])

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, k):
        i, j, y = self.pairs[k]
        return (self.transform(Image.fromarray(self.images[i])),
                self.transform(Image.fromarray(self.images[j])), y)


def epoch_per_item(model, loss_fn, optimiser, loader, device):
    for xi, xj, y in loader:
        x = torch.cat([xi, xj]).to(device)
        b = len(y)
        local = torch.arange(b, device=device)
        loss = loss_fn(model(x), (local, local + b, y.to(device)))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


def epoch_tensor(model, loss_fn, optimiser, images, pairs, batch_size, device):
    order = torch.randperm(len(pairs), device=device)
    for start in range(0, len(pairs), batch_size):
        batch = pairs[order[start:start + batch_size]]
        b = len(batch)
        local = torch.arange(b, device=device)
        x = images[torch.cat([batch[:, 0], batch[:, 1]])]
        loss = loss_fn(model(x), (local, local + b, batch[:, 2]))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--rounds", type=int, default=3, help="epochs timed per way, interleaved")
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    device = torch.device(args.device)

    data = load_splits(TrainConfig(classes=["4", "9"]))
    _, pairs = draw_split_tuples(data.train.images, data.train.labels, "random", 5,
                                 np.random.default_rng(0))
    loss_fn = ContrastiveLoss(1.0)
    torch.manual_seed(0)
    model = EmbeddingNet(28, 2).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(PairDataset(data.train.images, pairs, data.mean, data.std),
                        batch_size=args.batch_size, shuffle=True)
    images = torch.from_numpy(data.normalise(data.train.images)).unsqueeze(1).to(device)
    tuples = torch.from_numpy(pairs).to(device)
    ways = {
        "per-item DataLoader": lambda: epoch_per_item(model, loss_fn, optimiser, loader, device),
        "one tensor, indexed": lambda: epoch_tensor(model, loss_fn, optimiser, images, tuples,
                                                    args.batch_size, device),
    }
    best = {way: 0.0 for way in ways}
    for way in ways.values():
        way()  # warm-up
    for _ in range(args.rounds):  # interleaved, best of rounds: load on a shared machine hits both
        for name, way in ways.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            way()
            if device.type == "cuda":
                torch.cuda.synchronize()
            best[name] = max(best[name], len(pairs) / (time.perf_counter() - start))
    for name, rate in best.items():
        print(f"{name:<22} {rate:>10,.0f} pairs/s  (best of {args.rounds}, {device})")
    ratio = best["one tensor, indexed"] / best["per-item DataLoader"]
    print(f"ratio (tensor / per-item): {ratio:.2f}x")


if __name__ == "__main__":
    main()
