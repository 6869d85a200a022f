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
