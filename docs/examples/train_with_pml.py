"""Train an embedding network with pytorch-metric-learning's own trainer, export it, and write its
embeddings as a Parquet file: the starting point of docs/bring-your-own.md.

    python docs/examples/train_with_pml.py --out pml-mnist

writes pml-mnist.pt2 (torch.export.save) and pml-mnist.parquet (one row per image: label, image
as PNG bytes, embedding as a list column). The data is the bundled 5,000-image MNIST sample,
split and normalised by training.data, so the network trains on the training split that
``python -m training embed`` (with the same data options, here the defaults) embeds as "train".
"""

import argparse
import io
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from pytorch_metric_learning import losses, miners, samplers, trainers
from torch import nn

from training.config import TrainConfig
from training.data import load_splits


def networks(embedding_dim: int) -> tuple[nn.Module, nn.Module]:
    trunk = nn.Sequential(nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 5), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 4 * 4, 128), nn.ReLU())
    return trunk, nn.Linear(128, embedding_dim)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="pml-mnist", help="stem of the .pt2 and .parquet files")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--embedding-dim", type=int, default=16)
    args = parser.parse_args()
    torch.manual_seed(0)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)

    data = load_splits(TrainConfig())  # the defaults of python -m training train / embed
    images = torch.from_numpy(data.normalise(data.train.images)).unsqueeze(1)  # (n, 1, 28, 28)
    labels = torch.from_numpy(data.train.labels)
    dataset = torch.utils.data.TensorDataset(images, labels)

    trunk, embedder = networks(args.embedding_dim)
    trainer = trainers.MetricLossOnly(
        models={"trunk": trunk, "embedder": embedder},
        optimizers={"trunk_optimizer": torch.optim.Adam(trunk.parameters(), lr=1e-3),
                    "embedder_optimizer": torch.optim.Adam(embedder.parameters(), lr=1e-3)},
        batch_size=64,
        loss_funcs={"metric_loss": losses.TripletMarginLoss(margin=0.2)},
        mining_funcs={"tuple_miner": miners.MultiSimilarityMiner(epsilon=0.1)},
        dataset=dataset,
        sampler=samplers.MPerClassSampler(data.train.labels, m=4, length_before_new_iter=len(dataset)),
        dataloader_num_workers=0,
        data_device=torch.device("cpu"),
    )
    trainer.train(num_epochs=args.epochs)

    model = nn.Sequential(trunk, embedder).eval()
    program = torch.export.export(model, (images[:8],), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, f"{args.out}.pt2")

    every = np.concatenate([data.train.images, data.val.images, data.test.images])
    every_labels = np.concatenate([data.train.labels, data.val.labels, data.test.labels])
    with torch.no_grad():
        X = model(torch.from_numpy(data.normalise(every)).unsqueeze(1)).numpy()
    pd.DataFrame({"label": [data.class_names[c] for c in every_labels],
                  "image": [_png(image) for image in every],
                  "embedding": list(X.astype(np.float32))}).to_parquet(f"{args.out}.parquet")
    print(f"{args.out}.pt2")
    print(f"{args.out}.parquet")


def _png(image: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG")
    return out.getvalue()


if __name__ == "__main__":
    main()
