"""The map's pictures (ui/map_element/images.py): a run's images numbered across its splits, sheets
that hold exactly the images asked for in their cells, and the courier that answers a request on
the Inspect page. The browser's side is tested in tests/browser/test_map_element.py."""

from __future__ import annotations

import io
from pathlib import Path
import json

import numpy as np
import pytest
from PIL import Image

from fakerun import make_fake_run
from ui.map_element import images
from ui.map_element.images import ImageSource


def cells_of(png: bytes, columns: int, h: int, w: int, count: int) -> np.ndarray:
    grid = np.asarray(Image.open(io.BytesIO(png)))
    return np.stack([grid[(k // columns) * h:(k // columns + 1) * h, (k % columns) * w:(k % columns + 1) * w]
                     for k in range(count)])


def numbered(count: int, side: int = 6) -> ImageSource:
    """Image k is filled with k % 251, so a cell says which image it is."""
    def read(numbers):
        return np.broadcast_to((np.asarray(numbers) % 251).astype(np.uint8)[:, None, None],
                               (len(numbers), side, side)).copy()
    return ImageSource(f"numbered-{count}", count, side, side, {"train": 0}, read)


def test_a_runs_images_are_numbered_across_its_splits(tmp_path):
    from explorer.runs import load_run

    run = load_run(make_fake_run(tmp_path, n_train=30, n_test=10))
    source = images.run_source(run)
    assert source.offsets == {"train": 0, "test": 30, "shifted": 40}
    assert source.count == 40 + len(run.images("shifted"))
    got = source.read(np.array([31, 0, 45, 29]))
    np.testing.assert_array_equal(got[0], run.images("test")[1])
    np.testing.assert_array_equal(got[1], run.images("train")[0])
    np.testing.assert_array_equal(got[2], run.images("shifted")[5])
    np.testing.assert_array_equal(got[3], run.images("train")[29])


def test_a_sheet_holds_the_asked_images_in_order():
    source = numbered(5000)
    numbers = np.array([4999, 3, 700, 1000, 2])
    png, columns = images.sheet(source, numbers)
    got = cells_of(png, columns, 6, 6, len(numbers))
    assert got[:, 0, 0].tolist() == (numbers % 251).tolist()


def test_large_images_are_shrunk_in_a_sheet_and_odd_sizes_fitted():
    big = ImageSource("big", 3, 200, 100, {"train": 0},
                      lambda n: np.full((len(n), 200, 100), 9, np.uint8))
    assert big.cell == (64, 32)
    png, columns = images.sheet(big, np.arange(3))
    assert Image.open(io.BytesIO(png)).size == (3 * 32, 64)
    mixed = images._reader([np.zeros((2, 28, 28), np.uint8), np.full((2, 32, 32), 7, np.uint8)], (28, 28))
    assert mixed(np.array([3, 0])).shape == (2, 28, 28)


def test_a_source_goes_whole_up_to_the_cap_and_a_view_at_a_time_above():
    per_image = 28 * 28
    assert ImageSource("a", images.SHEET_MAX_PIXELS // per_image, 28, 28, {}, None).whole
    assert not ImageSource("b", images.SHEET_MAX_PIXELS // per_image + 1, 28, 28, {}, None).whole


def test_a_request_is_answered_with_what_exists_and_no_more():
    small, large = numbered(100), numbered(500_000)  # 500,000 cells of 6 x 6: 18M pixels
    png, numbers, columns = images.answer(small, {"all": True})
    assert numbers is None and len(cells_of(png, columns, 6, 6, 100)) == 100
    # the whole of a large source is never sent: a request for all of it asks for nothing
    assert images.answer(large, {"all": True}) is None
    png, numbers, columns = images.answer(large, {"images": [7, -1, 7, 500_000, 3, 499_999]})
    assert numbers == [3, 7, 499_999]
    assert cells_of(png, columns, 6, 6, 3)[:, 0, 0].tolist() == [3, 7, 499_999 % 251]
    _, numbers, _ = images.answer(large, {"images": list(range(5000))})
    assert len(numbers) == images.ASK_MAX
    assert images.answer(large, {"images": []}) is None


# ---------------------------------------------------------------- the courier on the Inspect page


def couriers(at) -> list[dict]:
    """The courier elements' specs and their sheets' PNG bytes, as the browser gets them."""
    import pyarrow as pa

    found = []
    for element in at.get("bidi_component"):
        if element.proto.component_name != "embedding_map_images":
            continue
        proto = element.proto
        data = json.loads(proto.mixed.json if proto.WhichOneof("data") == "mixed" else proto.json)
        spec = data["spec"]
        for name, ref in data.items():
            if name.startswith("t_"):
                blob = proto.mixed.arrow_blobs[ref["__streamlit_arrow_ref__"]].data
                spec["png"] = pa.ipc.open_stream(blob).read_all().column("png")[0].as_py()
        found.append(spec)
    return found


@pytest.fixture
def large_run(tmp_path, monkeypatch):
    """A run whose images are 'too many for one sheet' (the cap lowered to a few hundred)."""
    root = tmp_path / "runs"
    path = make_fake_run(root, "20260101-000000-big-abcdef", n_train=200, n_test=40)
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(root))
    monkeypatch.setenv("EXPLORER_WARM_UP", "0")
    monkeypatch.setattr(images, "SHEET_MAX_PIXELS", 28 * 28 * 100)
    return path


def test_the_inspect_page_sends_a_large_runs_images_only_when_asked(large_run):
    from streamlit.testing.v1 import AppTest

    from explorer.runs import load_run

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    (courier,) = couriers(at)
    assert courier["whole"] is False and courier["scope"] == "inspect" and "sheet" not in courier
    at.session_state[images.ASKED.format(scope="inspect")] = {"source": courier["source"],
                                                              "images": [205, 3, 3, -4, 10 ** 6]}
    at.run()
    (courier,) = couriers(at)
    sheet = courier["sheet"]
    assert sheet["images"] == [3, 205]
    run = load_run(large_run)
    got = cells_of(courier["png"], sheet["columns"], sheet["height"], sheet["width"], 2)
    np.testing.assert_array_equal(got[0], run.images("train")[3])
    np.testing.assert_array_equal(got[1], run.images("test")[5])
    # answered once: the next rerun sends no sheet again
    at.run()
    assert "sheet" not in couriers(at)[0]


def test_a_small_runs_images_go_whole_with_the_first_page_once(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    root = tmp_path / "runs"
    make_fake_run(root, "20260101-000000-small-abcdef", n_train=30, n_test=10)
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(root))
    monkeypatch.setenv("EXPLORER_WARM_UP", "0")
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120).run()
    (courier,) = couriers(at)
    assert courier["whole"] is True and courier["sheet"]["images"] is None and courier["png"]
    at.run()
    assert "sheet" not in couriers(at)[0]  # the browser holds it for the session
