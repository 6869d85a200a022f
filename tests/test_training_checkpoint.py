import io

import numpy as np
import torch

from training.checkpoint import restore_rng_states, rng_states


def test_rng_states_survive_weights_only_loading_and_replay_the_same_draws():
    generator = torch.Generator().manual_seed(3)
    rng = np.random.default_rng(5)
    torch.manual_seed(7)
    buffer = io.BytesIO()
    torch.save(rng_states(generator, rng), buffer)
    expected = (torch.randperm(50, generator=generator), rng.integers(0, 1 << 62, 4), torch.rand(3))

    buffer.seek(0)
    states = torch.load(buffer, weights_only=True)
    generator2, rng2 = torch.Generator().manual_seed(99), np.random.default_rng(99)
    torch.manual_seed(99)
    restore_rng_states(states, generator2, rng2)
    again = (torch.randperm(50, generator=generator2), rng2.integers(0, 1 << 62, 4), torch.rand(3))
    assert torch.equal(expected[0], again[0])
    np.testing.assert_array_equal(expected[1], again[1])
    assert torch.equal(expected[2], again[2])
