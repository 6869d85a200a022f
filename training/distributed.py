"""Training on several processes with DistributedDataParallel, as started by ``torchrun``.

``torchrun --nproc_per_node N -m training train ...`` sets WORLD_SIZE, RANK and LOCAL_RANK. Every
rank draws the same batches from the same seeded generator and takes its own slice of each; DDP
averages the gradients. Rank 0 alone monitors, snapshots and writes the run directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass
class Ranks:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's slice of a batch that every rank drew alike."""
        return batch[self.rank::self.world] if self.active else batch

    def barrier(self) -> None:
        if self.active:
            torch.distributed.barrier()

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        if self.active:
            value = value.clone()
            torch.distributed.all_reduce(value)
            value /= self.world
        return value

    def wrap(self, network: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        if not self.active:
            return network
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(network, device_ids=ids)


def from_environment(device: torch.device) -> Ranks:
    """The ranks torchrun describes (one rank without it); joins the process group."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Ranks()
    ranks = Ranks(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return ranks


def rank_device(device: torch.device) -> torch.device:
    """cuda becomes this process's own GPU (cuda:LOCAL_RANK) under torchrun."""
    if device.type != "cuda" or "LOCAL_RANK" not in os.environ:
        return device
    local = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    torch.cuda.set_device(local)
    return local


def shutdown() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
