"""What ``--resume`` continues from: weights, optimiser, the method's state and every RNG state.

Saved each epoch through ``rundir.write_checkpoint`` (atomic) and read back with
``weights_only=True``: only tensors, numbers, strings, lists and dicts, never pickled objects.
"""

from __future__ import annotations

import numpy as np
import torch


def rng_states(generator: torch.Generator, rng: np.random.Generator) -> dict:
    states = {"torch": torch.get_rng_state(), "generator": generator.get_state(),
              "numpy": _numpy_state(rng)}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict, generator: torch.Generator, rng: np.random.Generator) -> None:
    torch.set_rng_state(states["torch"])
    generator.set_state(states["generator"])
    rng.bit_generator.state = _from_strings(states["numpy"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _numpy_state(rng: np.random.Generator) -> dict:
    # PCG64's state holds 128-bit integers; as strings they pass weights_only loading anywhere.
    return _to_strings(rng.bit_generator.state)


def _to_strings(value):
    if isinstance(value, dict):
        return {k: _to_strings(v) for k, v in value.items()}
    if isinstance(value, int) and not isinstance(value, bool):
        return {"int": str(value)}
    return value


def _from_strings(value):
    if isinstance(value, dict):
        if set(value) == {"int"}:
            return int(value["int"])
        return {k: _from_strings(v) for k, v in value.items()}
    return value
