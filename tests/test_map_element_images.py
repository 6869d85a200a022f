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


def grid_table(n: int):
    """A point table of ``n`` train points then ``n`` test points (rows 0..n-1 each)."""
    import pandas as pd

    from ui.map_element.table import point_table

    frame = pd.DataFrame({"split": ["train"] * n + ["test"] * n, "row": list(range(n)) * 2, "label": 0,
                          "class_name": "", "shift": 0, "x": np.arange(2 * n, dtype=float), "y": 0.0})
    return point_table(frame)


def row_id(table, split: str, row: int) -> int:
    """The map's row id of a (split, row) point."""
    frame = table.frame
    return int(np.flatnonzero((frame["split"] == split).to_numpy() & (frame["row"] == row).to_numpy())[0])


def test_a_request_is_answered_with_what_exists_and_no_more():
    small = numbered(100)
    png, sheet = images.answer(small, {"all": True}, None)
    assert sheet["images"] is None and len(cells_of(png, sheet["columns"], 6, 6, 100)) == 100
    large = ImageSource("large", 500_000, 6, 6, {"train": 0, "test": 250_000}, numbered(500_000).read)
    table = grid_table(250_000)  # 500,000 cells of 6 x 6: 18M pixels, more than one sheet
    # the whole of a large source is never sent: a request for all of it asks for nothing
    assert images.answer(large, {"all": True}, table) is None
    test_3, test_7, train_7 = row_id(table, "test", 3), row_id(table, "test", 7), row_id(table, "train", 7)
    asked = {"table": table.hash, "ids": [test_7, -1, test_7, 10 ** 7, test_3, train_7, "x"]}
    png, sheet = images.answer(large, asked, table)
    assert dict(zip(sheet["ids"], sheet["numbers"])) == {test_3: 250_003, test_7: 250_007, train_7: 7}
    assert sheet["images"] == [7, 250_003, 250_007]
    assert cells_of(png, sheet["columns"], 6, 6, 3)[:, 0, 0].tolist() == [7, 250_003 % 251, 250_007 % 251]
    _, sheet = images.answer(large, {"table": table.hash, "ids": list(range(5000))}, table)
    assert len(sheet["ids"]) == images.ASK_MAX
    assert images.answer(large, {"table": table.hash, "ids": []}, table) is None
    # asked on a map drawn before (another table): nothing, the browser asks again on the new one
    assert images.answer(large, {"table": "old", "ids": [1, 2]}, table) is None


# ---------------------------------------------------------------- the courier on the Inspect page


def the_map_spec(at) -> dict:
    for element in at.get("bidi_component"):
        if element.proto.component_name == "embedding_map":
            proto = element.proto
            return json.loads(proto.mixed.json if proto.WhichOneof("data") == "mixed" else proto.json)["spec"]
    raise AssertionError("no map on the page")


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
    table = at.session_state["_map-table-inspect"]
    assert "image" not in the_map_spec(at)["extras"]  # no table of image numbers for a large source
    asked = [row_id(table, "train", 3), row_id(table, "test", 5)]
    at.session_state[images.ASKED.format(scope="inspect")] = {"source": courier["source"], "table": table.hash,
                                                              "ids": asked + [asked[0], -4, 10 ** 6]}
    at.run()
    (courier,) = couriers(at)
    sheet = courier["sheet"]
    assert sheet["images"] == [3, 205] and dict(zip(sheet["ids"], sheet["numbers"])) == dict(zip(asked, [3, 205]))
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
    assert "image" in the_map_spec(at)["extras"]  # each point's image number, 4 bytes a point
    from ui.map_element.table import SPLIT_CODES

    # each split's first image number, so the hover tip can say a point's row
    assert the_map_spec(at)["images"]["offsets"] == {str(SPLIT_CODES["train"]): 0, str(SPLIT_CODES["test"]): 30,
                                                     str(SPLIT_CODES["shifted"]): 40}
    at.run()
    assert "sheet" not in couriers(at)[0]  # the browser holds it for the session


def test_images_that_cannot_be_read_leave_the_map_without_them(tmp_path):
    """A run whose image files changed after it was opened (a damaged run does not open at all:
    tests/test_bad_input.py): no images, no exception."""
    from explorer.runs import load_run
    from runfmt import RunDirError

    run = load_run(make_fake_run(tmp_path, n_train=30, n_test=10))

    def damaged(split):
        raise RunDirError(f"images/{split}.npy in {run.path} is damaged")

    run.images = damaged
    assert images.for_run(run) is None


def test_images_that_cannot_be_read_when_asked_for_are_said_so_once(large_run, monkeypatch):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120).run()
    (courier,) = couriers(at)
    table = at.session_state["_map-table-inspect"]

    def gone(source, numbers):
        raise OSError("images/train.npy was replaced while the page was open")

    monkeypatch.setattr(images, "sheet", gone)
    at.session_state[images.ASKED.format(scope="inspect")] = {"source": courier["source"], "table": table.hash,
                                                              "ids": [row_id(table, "train", 3)]}
    at.run()
    assert not at.exception
    (courier,) = couriers(at)
    assert "sheet" not in courier and "replaced while the page was open" in courier["error"]
