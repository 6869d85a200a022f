import numpy as np
import pytest

from training.shift import shift_images


@pytest.mark.parametrize("shift", [-6, -3, 3, 6, 1])
def test_shift_moves_pixels_by_exactly_the_shift_with_zero_fill(shift):
    rng = np.random.default_rng(0)
    images = rng.integers(1, 256, size=(4, 12, 10), dtype=np.uint8)  # no zeros: fill is visible
    result = shift_images(images, [shift])
    shifted, shifts, source = result.images, result.shift, result.source_index
    expected = np.zeros_like(images)
    if shift > 0:
        expected[:, :, shift:] = images[:, :, :-shift]
    else:
        expected[:, :, :shift] = images[:, :, -shift:]
    np.testing.assert_array_equal(shifted, expected)
    assert (shifts == shift).all()
    np.testing.assert_array_equal(source, np.arange(4))


def test_every_shift_of_every_image_records_its_source():
    images = np.arange(3 * 5 * 5, dtype=np.uint8).reshape(3, 5, 5)
    result = shift_images(images, [-1, 2])
    shifted, shifts, source = result.images, result.shift, result.source_index
    assert shifted.shape == (6, 5, 5) and shifted.dtype == np.uint8
    assert list(shifts) == [-1, -1, -1, 2, 2, 2]
    assert list(source) == [0, 1, 2, 0, 1, 2]
    np.testing.assert_array_equal(shifted[4, :, 2:], images[1, :, :3])


def test_no_shifts_gives_an_empty_set():
    result = shift_images(np.zeros((2, 5, 5), np.uint8), [])
    shifted, shifts, source = result.images, result.shift, result.source_index
    assert shifted.shape == (0, 5, 5) and len(shifts) == len(source) == 0


def test_the_shift_equals_torchvisions_affine_translation_with_zero_fill():
    import torch
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as F

    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    result = shift_images(images, [-6, -3, 3, 6])
    for k, s in enumerate([-6, -3, 3, 6]):
        expected = F.affine(torch.from_numpy(images).unsqueeze(1), angle=0.0, translate=[s, 0], scale=1.0,
                            shear=[0.0, 0.0], interpolation=InterpolationMode.NEAREST, fill=0).squeeze(1).numpy()
        np.testing.assert_array_equal(result.images[k * 5:(k + 1) * 5], expected)
