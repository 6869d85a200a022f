"""The bad-input battery: every case is answered by the command line with exit status 2 and one
line on stderr that says what to fix, never a traceback, and no run is left looking finished.

``CASES`` is one table across ``python -m training`` (train, list) and ``python -m explorer``
(summary, report, project, list): numeric options at zero, negative, NaN, infinite, absurdly
large and of the wrong type; unknown choices and classes; odd data folders and damaged IDX files;
unusable --data-dir and --runs-dir; run directories with each file missing, empty, truncated,
garbage or of the wrong schema. The CLIs' ``main(argv)`` runs in-process (fast); a few cases go
through the real entry points as subprocesses to show those behave the same.

Inputs that should work (nested and hidden folders, names with spaces or unicode, RGBA and 16-bit
images, gzip-only IDX files, a data set smaller than a batch, a corrupt projections cache) are
tested below the battery.
"""

from __future__ import annotations

import errno
import gzip
import json
import re
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import run_cli
from datafiles import write_class_folders, write_idx
from explorer.cli import main as explorer_main
from fakerun import make_fake_run
from training import rundir
from training.cli import main as training_main

TRAIN = ["train", "--runs-dir", "{runs}", "--device", "cpu", "--epochs", "1"]


@dataclass
class Case:
    id: str
    tool: str  # "training" or "explorer"
    argv: list[str]  # {runs}, {data}, {run} and {tmp} are filled in
    expect: str  # a piece of the one line on stderr
    setup: str | None = None  # a function of SETUPS preparing files (and monkeypatches)
    code: int = 2


def train_case(id: str, args: list[str], expect: str, setup: str | None = None) -> Case:
    return Case(id, "training", [*TRAIN, *args], expect, setup)


# ---------------------------------------------------------------- numeric options

INVALID_INT = "invalid int value"
INVALID_FLOAT = "invalid float value"
HUGE = str(10**12)

# option, what it needs beside it, {bad value: piece of the message}
NUMERIC = [
    ("--epochs", [], {"0": "--epochs must be positive", "-3": "--epochs must be positive",
                      "nan": INVALID_INT, "inf": INVALID_INT, HUGE: "--epochs must be at most 100000",
                      "2.5": INVALID_INT}),
    ("--embedding-dim", [], {"0": "--embedding-dim must be positive", "-2": "--embedding-dim must be positive",
                             "nan": INVALID_INT, HUGE: "--embedding-dim must be at most 4096", "two": INVALID_INT}),
    ("--batch-size", [], {"0": "--batch-size must be positive", "-1": "--batch-size must be positive",
                          "inf": INVALID_INT, "many": INVALID_INT}),
    ("--nn-k", ["--regime", "nn-other"], {"0": "--nn-k must be positive", "-1": "--nn-k must be positive",
                                          "nan": INVALID_INT}),
    ("--image-size", [], {"0": "--image-size must be at least 16", "-28": "--image-size must be at least 16",
                          "8": "--image-size must be at least 16", HUGE: "--image-size must be at most 512",
                          "nan": INVALID_INT}),
    ("--max-train", [], {"0": "--max-train must be positive", "-5": "--max-train must be positive",
                         "lots": INVALID_INT}),
    ("--seed", [], {"-1": "--seed must be 0 or more", str(2**40): "--seed must be at most 4294967295",
                    "1.5": INVALID_INT}),
    ("--snapshot-every", [], {"0": "--snapshot-every must be positive", "-1": "--snapshot-every must be positive"}),
    ("--snapshot-max-points", [], {"0": "--snapshot-max-points must be positive",
                                   "-1": "--snapshot-max-points must be positive"}),
    ("--margin", [], {"0": "--margin must be positive", "-1": "--margin must be positive",
                      "nan": "--margin must be positive", "inf": "--margin must be a finite number",
                      "1e9": "--margin must be at most 1000", "wide": INVALID_FLOAT}),
    ("--lr", [], {"0": "--lr must be positive", "-0.1": "--lr must be positive", "nan": "--lr must be positive",
                  "inf": "--lr must be a finite number", "1e6": "--lr must be at most 10", "fast": INVALID_FLOAT}),
    ("--test-fraction", [], {"0": "--test-fraction must be between 0 and 1", "1": "between 0 and 1",
                             "-0.2": "between 0 and 1", "nan": "between 0 and 1", "inf": "between 0 and 1",
                             "half": INVALID_FLOAT}),
    ("--val-fraction", [], {"0": "--val-fraction must be between 0 and 1", "1.5": "between 0 and 1",
                            "nan": "between 0 and 1"}),
    ("--weight-fn", ["--loss", "contrastive-3way"], {"-1": "--weight-fn must be 0 or more",
                                                     "nan": "--weight-fn must be 0 or more",
                                                     "inf": "--weight-fn must be a finite number",
                                                     "1e9": "--weight-fn must be at most 1000"}),
    ("--alpha", ["--loss", "magnet"], {"-1": "--alpha must be 0 or more", "nan": "--alpha must be 0 or more",
                                       "inf": "--alpha must be a finite number"}),
    ("--margin-fn", ["--loss", "contrastive-3way"], {"0": "--margin-fn must be positive",
                                                     "inf": "--margin-fn must be a finite number"}),
    ("--magnet-k", ["--loss", "magnet"], {"0": "--magnet-k must be at least 1",
                                          HUGE: "--magnet-k must be at most 1000"}),
    ("--magnet-m", ["--loss", "magnet"], {"1": "--magnet-m must be at least 2"}),
    ("--magnet-d", ["--loss", "magnet"], {"1": "--magnet-d must be at least 2",
                                          HUGE: "--magnet-d must be at most 10000"}),
    ("--images-per-class", ["--loss", "triplet", "--miner", "batch-hard"],
     {"1": "--images-per-class must be at least 2", HUGE: "--images-per-class must be at most 10000"}),
    ("--classes-per-batch", ["--loss", "triplet", "--miner", "batch-hard"],
     {"1": "--classes-per-batch must be at least 2"}),
    ("--shifts", [], {"1000": "--shifts must be smaller than the image (28 px)", "left": INVALID_INT}),
]

CASES = [train_case(f"train {option} {value}", [*extra, option, value], expect)
         for option, extra, values in NUMERIC for value, expect in values.items()]

# ---------------------------------------------------------------- choices, classes, --options

CASES += [
    train_case("unknown dataset", ["--dataset", "cifar"], "invalid choice: 'cifar'"),
    train_case("unknown loss", ["--loss", "hinge"], "invalid choice: 'hinge'"),
    train_case("unknown regime", ["--regime", "nearest"], "invalid choice: 'nearest'"),
    train_case("unknown miner", ["--loss", "triplet", "--miner", "hardest"], "invalid choice: 'hardest'"),
    train_case("unknown device", ["--device", "tpu"], "invalid choice: 'tpu'"),
    train_case("unknown option", ["--epoch-count", "3"], "unrecognized arguments: --epoch-count"),
    train_case("unknown class", ["--classes", "4", "x"], "unknown class 'x'"),
    train_case("unknown class index", ["--classes", "4", "12"], "unknown class '12'"),
    train_case("one class", ["--classes", "4", "4"], "--classes needs at least two different classes"),
    train_case("a single class given", ["--classes", "7"], "--classes needs at least two different classes"),
    train_case("an option of another loss", ["--loss", "magnet", "--margin", "2"],
               "--margin does not apply to --loss magnet"),
    train_case("more classes per batch than classes", ["--classes", "4", "9", "--loss", "triplet", "--miner",
                                                       "batch-hard", "--classes-per-batch", "3"],
               "--classes-per-batch 3 is more than the 2 classes"),
    train_case("nn-k larger than a class", ["--classes", "4", "9", "--max-train", "40", "--regime", "nn-other",
                                            "--nn-k", "50"], "choose --nn-k below"),
    train_case("too few images to split", ["--classes", "4", "9", "--max-train", "3"], "too few images"),
    train_case("options not JSON", ["--options", "{epochs: 3"], "--options is not valid JSON"),
    train_case("options not an object", ["--options", "[3]"], "--options must be one JSON object"),
    train_case("options unknown name", ["--options", '{"epoch": 3}'], "--options has unknown option 'epoch'"),
    train_case("options text for a number", ["--options", '{"epochs": "5"}'], "--epochs must be a whole number"),
    train_case("options text for a list", ["--options", '{"classes": "4 9"}'], "--classes must be a list of text"),
    train_case("options NaN", ["--options", '{"lr": NaN}'], "--lr must be positive"),
    train_case("options text for a switch", ["--options", '{"normalize": "yes"}'], "--normalize must be true or false"),
    train_case("options bool for a number", ["--options", '{"epochs": true}'], "--epochs must be a whole number"),
]

# ---------------------------------------------------------------- data folders and IDX files


def folder_data(tmp: Path, classes=("alpha", "beta", "gamma"), per_class: int = 6) -> Path:
    return write_class_folders(tmp / "data", classes=classes, per_class=per_class, size=(16, 16))


def setup_one_class(tmp, monkeypatch):
    folder_data(tmp, classes=("alpha",))


def setup_single_image(tmp, monkeypatch):
    folder_data(tmp)
    for extra in sorted((tmp / "data" / "beta").iterdir())[1:]:
        extra.unlink()


def setup_empty_class(tmp, monkeypatch):
    folder_data(tmp)
    (tmp / "data" / "delta").mkdir()


def setup_no_class_folders(tmp, monkeypatch):
    (tmp / "data").mkdir()
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp / "data" / "loose.png")


def setup_undecodable(tmp, monkeypatch):
    folder_data(tmp)
    (tmp / "data" / "beta" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")


def setup_zero_bytes(tmp, monkeypatch):
    folder_data(tmp)
    (tmp / "data" / "gamma" / "empty.jpg").write_bytes(b"")


def setup_text_as_image(tmp, monkeypatch):
    folder_data(tmp)
    (tmp / "data" / "alpha" / "notes.png").write_text("these are my notes, not an image\n")


def setup_small_folder(tmp, monkeypatch):
    folder_data(tmp, per_class=5)


def setup_data_file(tmp, monkeypatch):
    (tmp / "data").write_text("not a folder")


def setup_unreadable_folder(tmp, monkeypatch):
    """Permission denied, as the operating system would answer (chmod does not stop root)."""
    folder_data(tmp)
    deny_listing(monkeypatch, tmp / "data")


def deny_listing(monkeypatch, folder: Path) -> None:
    """Listing ``folder`` fails with permission denied; every other folder lists as usual."""
    original = Path.iterdir

    def iterdir(self):
        if self == folder:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return original(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)


def setup_unreadable_idx(tmp, monkeypatch):
    write_idx(tmp / "data")
    import training.data

    def refuse(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(training.data, "open", refuse, raising=False)


def idx_setup(damage):
    def setup(tmp, monkeypatch):
        folder = write_idx(tmp / "data")
        damage(folder)
    return setup


def _truncate(path: Path, keep: float = 0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _gzip_damaged(folder: Path):
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        data = (folder / name).read_bytes()
        (folder / name).unlink()
        packed = gzip.compress(data)
        (folder / f"{name}.gz").write_bytes(packed[: len(packed) // 2] if name.startswith("t10k-images") else packed)


def _mismatched(folder: Path):
    path = folder / "train-labels-idx1-ubyte"
    data = path.read_bytes()
    n = struct.unpack(">I", data[4:8])[0] - 1
    path.write_bytes(data[:4] + struct.pack(">I", n) + data[8: 8 + n])


def _bad_label(folder: Path):
    path = folder / "t10k-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[8] = 42
    path.write_bytes(bytes(data))


SETUPS = {
    "one class": setup_one_class,
    "single image": setup_single_image,
    "empty class": setup_empty_class,
    "no class folders": setup_no_class_folders,
    "undecodable": setup_undecodable,
    "zero bytes": setup_zero_bytes,
    "text as image": setup_text_as_image,
    "small folder": setup_small_folder,
    "data file": setup_data_file,
    "unreadable folder": setup_unreadable_folder,
    "unreadable idx": setup_unreadable_idx,
    "idx truncated": idx_setup(lambda f: _truncate(f / "train-images-idx3-ubyte")),
    "idx header only": idx_setup(lambda f: _truncate(f / "t10k-labels-idx1-ubyte", 0.0)),
    "idx wrong magic": idx_setup(lambda f: (f / "train-labels-idx1-ubyte").write_bytes(
        b"\x00\x00\x08\x03" + (f / "train-labels-idx1-ubyte").read_bytes()[4:])),
    "idx swapped": idx_setup(lambda f: shutil.copy(f / "t10k-images-idx3-ubyte", f / "t10k-labels-idx1-ubyte")),
    "idx mismatched": idx_setup(_mismatched),
    "idx bad label": idx_setup(_bad_label),
    "idx incomplete": idx_setup(lambda f: (f / "t10k-labels-idx1-ubyte").unlink()),
    "idx damaged gz": idx_setup(_gzip_damaged),
    "idx png": idx_setup(lambda f: Image.fromarray(np.zeros((28, 28), np.uint8)).save(
        f / "train-images-idx3-ubyte", format="PNG")),
}

FOLDER = ["--dataset", "folder", "--data-dir", "{data}", "--image-size", "16"]
IDX = ["--dataset", "mnist", "--data-dir", "{data}"]

CASES += [
    train_case("folder: one class folder", FOLDER, "holds one class folder ('alpha')", "one class"),
    train_case("folder: a class with one image", FOLDER, "too few images", "single image"),
    train_case("folder: an empty class folder", FOLDER, "class folder 'delta'", "empty class"),
    train_case("folder: no class folders", FOLDER, "holds no class folders", "no class folders"),
    train_case("folder: an image that fails to decode", FOLDER, "broken.png", "undecodable"),
    train_case("folder: a 0-byte image", FOLDER, "empty.jpg is empty (0 bytes)", "zero bytes"),
    train_case("folder: a text file named .png", FOLDER, "notes.png", "text as image"),
    train_case("folder: nn-k larger than a class", [*FOLDER, "--regime", "nn-other", "--nn-k", "9"],
               "choose --nn-k below", "small folder"),
    train_case("folder: unknown class", [*FOLDER, "--classes", "alpha", "omega"], "unknown class 'omega'",
               "small folder"),
    train_case("folder: permission denied", FOLDER, "permission denied", "unreadable folder"),
    train_case("data-dir missing", ["--data-dir", "{tmp}/nowhere"], "does not exist"),
    train_case("data-dir is a file", ["--data-dir", "{data}"], "is a file, not a folder", "data file"),
    train_case("folder without data-dir", ["--dataset", "folder"], "--dataset folder needs --data-dir"),
    train_case("idx: permission denied", IDX, "permission denied", "unreadable idx"),
    train_case("idx: truncated", IDX, "train-images-idx3-ubyte is truncated", "idx truncated"),
    train_case("idx: header only", IDX, "t10k-labels-idx1-ubyte is truncated", "idx header only"),
    train_case("idx: wrong magic number", IDX, "is not an IDX file of 1-D unsigned bytes", "idx wrong magic"),
    train_case("idx: images where labels belong", IDX, "t10k-labels-idx1-ubyte is not an IDX file", "idx swapped"),
    train_case("idx: a PNG named as IDX", IDX, "train-images-idx3-ubyte is not an IDX file", "idx png"),
    train_case("idx: mismatched counts", IDX, "holds 60 images but train-labels-idx1-ubyte holds 59 labels",
               "idx mismatched"),
    train_case("idx: a label out of range", IDX, "holds label 42", "idx bad label"),
    train_case("idx: a file missing", IDX, "t10k-labels-idx1-ubyte is missing", "idx incomplete"),
    train_case("idx: a damaged .gz", IDX, "t10k-images-idx3-ubyte.gz", "idx damaged gz"),
    train_case("idx: no IDX files", ["--dataset", "fashion-mnist", "--data-dir", "{tmp}"],
               "fashion-mnist IDX files not found"),
]

# ---------------------------------------------------------------- --runs-dir


def setup_runs_file(tmp, monkeypatch):
    (tmp / "runs").write_text("not a folder")


def setup_runs_unwritable(tmp, monkeypatch):
    (tmp / "runs").mkdir()
    original = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self.parent == tmp / "runs":
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)


def setup_runs_unreadable(tmp, monkeypatch):
    (tmp / "runs").mkdir()
    deny_listing(monkeypatch, tmp / "runs")


SETUPS.update({"runs file": setup_runs_file, "runs unwritable": setup_runs_unwritable,
               "runs unreadable": setup_runs_unreadable})

CASES += [
    train_case("runs-dir is a file", ["--classes", "4", "9"], "--runs-dir", "runs file"),
    train_case("runs-dir not writable", ["--classes", "4", "9", "--max-train", "40"],
               "is not writable (Permission denied)", "runs unwritable"),
    Case("list: runs-dir is a file", "training", ["list", "--runs-dir", "{runs}"], "is a file, not a folder",
         "runs file"),
    Case("list: runs-dir unreadable", "training", ["list", "--runs-dir", "{runs}"], "cannot be listed",
         "runs unreadable"),
    Case("list: unknown option", "training", ["list", "--all"], "unrecognized arguments: --all"),
    Case("no command", "training", [], "required: command"),
]

# ---------------------------------------------------------------- explorer: options

CASES += [
    Case("summary --far nan", "explorer", ["summary", "{run}", "--far", "nan"], "--far must lie in [0, 1]", "run"),
    Case("summary --far inf", "explorer", ["summary", "{run}", "--far", "inf"], "--far must lie in [0, 1]", "run"),
    Case("summary --far -0.1", "explorer", ["summary", "{run}", "--far", "-0.1"], "--far must lie in [0, 1]", "run"),
    Case("summary --far text", "explorer", ["summary", "{run}", "--far", "low"], INVALID_FLOAT, "run"),
    Case("summary --seed -1", "explorer", ["summary", "{run}", "--seed", "-1"], "--seed must be between 0", "run"),
    Case("summary --seed huge", "explorer", ["summary", "{run}", "--seed", HUGE], "--seed must be between 0", "run"),
    Case("summary --epoch -1", "explorer", ["summary", "{run}", "--epoch", "-1"], "epoch -1 has no snapshot", "run"),
    Case("summary --epoch huge", "explorer", ["summary", "{run}", "--epoch", HUGE], "has no snapshot", "run"),
    Case("summary --epoch text", "explorer", ["summary", "{run}", "--epoch", "last"], INVALID_INT, "run"),
    Case("summary --max-points 0", "explorer", ["summary", "{run}", "--max-points", "0"],
         "--max-points must be at least 3", "run"),
    Case("summary --max-points -5", "explorer", ["summary", "{run}", "--max-points", "-5"],
         "--max-points must be at least 3", "run"),
    Case("summary --max-points nan", "explorer", ["summary", "{run}", "--max-points", "nan"], INVALID_INT, "run"),
    Case("summary of a file", "explorer", ["summary", "{data}"], "is a file, not a run directory", "data file"),
    Case("summary of a missing run", "explorer", ["summary", "{tmp}/nowhere"], "does not exist"),
    Case("summary of a folder of runs", "explorer", ["summary", "{runs}"], "not a run directory", "run"),
    Case("project unknown method", "explorer", ["project", "{run}", "--method", "isomap"],
         "unknown projection method 'isomap'", "run"),
    Case("project perplexity nan", "explorer", ["project", "{run}", "--method", "tsne", "--param", "perplexity=nan"],
         "perplexity must be a finite number", "run"),
    Case("project n_iter inf", "explorer", ["project", "{run}", "--method", "tsne", "--param", "n_iter=inf"],
         "n_iter must be a finite number", "run"),
    Case("project n_iter huge", "explorer", ["project", "{run}", "--method", "tsne", "--param", f"n_iter={HUGE}"],
         "n_iter must be at most 100000", "run"),
    Case("project perplexity negative", "explorer",
         ["project", "{run}", "--method", "tsne", "--param", "perplexity=-3"], "perplexity must be a positive", "run"),
    Case("project bad mode", "explorer", ["project", "{run}", "--mode", "sideways"], "unknown projection mode", "run"),
    Case("project param without =", "explorer", ["project", "{run}", "--method", "pca", "--param", "whiten"],
         "must look like name=value", "run"),
    Case("report into a missing folder", "explorer", ["report", "{run}", "-o", "{tmp}/no/such/report.html"],
         "does not exist", "run"),
    Case("report onto a folder", "explorer", ["report", "{run}", "-o", "{runs}", "--method", "pca"],
         "is a folder: give the report a file name", "run"),
    Case("report disk full", "explorer", ["report", "{run}", "-o", "{tmp}/report.html", "--method", "pca"],
         "disk full while writing report.html", "run, disk full"),
    Case("list of a file", "explorer", ["list", "{data}"], "is a file, not a folder", "data file"),
    Case("list unreadable", "explorer", ["list", "{runs}"], "cannot be listed", "runs unreadable"),
    Case("explorer unknown command", "explorer", ["inspect", "{run}"], "invalid choice: 'inspect'"),
]

# ---------------------------------------------------------------- explorer: damaged run directories

RUN_FILES = {"config": rundir.CONFIG, "status": rundir.STATUS, "metrics": rundir.METRICS,
             "snapshot": "embeddings/epoch-000002.parquet", "pairs": rundir.PAIRS, "images": "images/test.npy"}


def _wrong_schema(name: str, path: Path) -> None:
    if name == "config":
        path.write_text(json.dumps({"format_version": 2, "class_names": "ab", "embedding_dim": 2}))
    elif name == "status":
        path.write_text(json.dumps({"state": "finished", "epoch": "two", "epochs": 2}))
    elif name == "metrics":
        path.write_text("when,what\n1,2\n")
    elif name == "snapshot":
        pd.DataFrame({"x": [1.0], "y": [2.0]}).to_parquet(path)
    elif name == "pairs":
        np.savez(path, train_pairs=np.zeros((4, 2), np.int64))
    elif name == "images":
        np.save(path, np.zeros((20, 28, 28), np.float32))


def damage(run: Path, name: str, how: str) -> None:
    path = run / RUN_FILES[name]
    data = path.read_bytes()
    if how == "missing":
        path.unlink()
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 3])
    elif how == "garbage":
        path.write_bytes(bytes(range(256))[::-3] * 3)
    elif how == "wrong schema":
        _wrong_schema(name, path)


DAMAGED = {  # (file, damage): piece of the message; None: the file is not needed, the run opens
    ("config", "missing"): "not a run directory: it has no config.json",
    ("config", "empty"): "config.json in",
    ("config", "truncated"): "config.json in",
    ("config", "garbage"): "config.json in",
    ("config", "wrong schema"): "config.json in",
    ("status", "missing"): "status.json is missing",
    ("status", "empty"): "status.json in",
    ("status", "truncated"): "status.json in",
    ("status", "garbage"): "status.json in",
    ("status", "wrong schema"): "status.json in",
    ("metrics", "empty"): "metrics.csv in",
    ("metrics", "garbage"): "metrics.csv in",
    ("metrics", "wrong schema"): "metrics.csv in",
    ("snapshot", "empty"): "embeddings/epoch-000002.parquet in",
    ("snapshot", "truncated"): "embeddings/epoch-000002.parquet in",
    ("snapshot", "garbage"): "embeddings/epoch-000002.parquet in",
    ("snapshot", "wrong schema"): "embeddings/epoch-000002.parquet in",
    ("pairs", "missing"): "pairs.npz is missing",
    ("pairs", "empty"): "pairs.npz in",
    ("pairs", "truncated"): "pairs.npz in",
    ("pairs", "garbage"): "pairs.npz in",
    ("pairs", "wrong schema"): "pairs.npz in",
    ("images", "missing"): "images/test.npy is missing",
    ("images", "empty"): "images/test.npy in",
    ("images", "truncated"): "images/test.npy in",
    ("images", "garbage"): "images/test.npy in",
    ("images", "wrong schema"): "images/test.npy in",
}
COMMANDS = {"summary": ["summary", "{run}"], "report": ["report", "{run}", "-o", "{tmp}/r.html", "--method", "pca"],
            "project": ["project", "{run}"]}

for (name, how), expect in DAMAGED.items():
    SETUPS[f"run, {name} {how}"] = (lambda name, how: lambda tmp, mp: damage(_fake_run(tmp), name, how))(name, how)
    # every damage through summary; each file's damage once more through report or project
    commands = ["summary", *(["report"] if how == "garbage" else ["project"] if how == "truncated" else [])]
    for command in commands:
        CASES.append(Case(f"{command}: {RUN_FILES[name]} {how}", "explorer", COMMANDS[command], expect,
                          f"run, {name} {how}"))


def _fake_run(tmp: Path) -> Path:
    return make_fake_run(tmp / "runs", name="run", n_train=40, n_test=20, n_pairs=40)


def setup_run(tmp, monkeypatch):
    _fake_run(tmp)
    (tmp / "data").write_text("a file")


def setup_run_disk_full(tmp, monkeypatch):
    _fake_run(tmp)
    import explorer.report

    def full(path, write, mode="w", run_dir=None):
        raise rundir.RunWriteError(errno.ENOSPC, Path(path).name)

    monkeypatch.setattr(explorer.report.rundir, "atomic_write", full)


SETUPS.update({"run": setup_run, "run, disk full": setup_run_disk_full})


# ---------------------------------------------------------------- the battery


def fill(argv: list[str], tmp: Path) -> list[str]:
    places = {"runs": tmp / "runs", "data": tmp / "data", "run": tmp / "runs" / "run", "tmp": tmp}
    filled = []
    for arg in argv:
        for name, value in places.items():
            arg = arg.replace("{" + name + "}", str(value))
        filled.append(arg)
    return filled


def call(tool: str, argv: list[str], capsys) -> tuple[int, str, str]:
    main = training_main if tool == "training" else explorer_main
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own exit
        code = e.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


PROGRESS = re.compile(r"^\[\s*\d+%\] ")  # the explorer's progress lines, one per stage of long work


def answer_lines(stderr: str) -> list[str]:
    """stderr without the progress lines that came before the failure: what answers the user."""
    return [line for line in stderr.strip().splitlines() if not PROGRESS.match(line)]


def finished_runs(runs: Path) -> list[Path]:
    if not runs.is_dir():
        return []
    found = []
    for path in runs.iterdir():
        try:
            if path.name != "run" and rundir.read_status(path)["state"] == rundir.FINISHED:
                found.append(path)
        except (rundir.RunDirError, OSError):
            pass
    return found


def test_the_battery_has_at_least_60_cases():
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_answered_in_one_line_with_exit_status_2(case, tmp_path, monkeypatch, capsys):
    if case.setup:
        SETUPS[case.setup](tmp_path, monkeypatch)
    code, out, err = call(case.tool, fill(case.argv, tmp_path), capsys)
    lines = answer_lines(err)
    assert code == case.code, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert case.expect in lines[0], lines[0]
    assert "Traceback" not in err + out
    monkeypatch.undo()  # look at the result with the real file system
    assert finished_runs(tmp_path / "runs") == []


# ---------------------------------------------------------------- the real entry points


ENTRY_POINTS = [  # a handful of the table again, through python -m, as a user runs them
    "unknown dataset", "train --lr inf", "folder: a 0-byte image", "summary: config.json garbage",
    "summary --max-points 0",
]


@pytest.mark.parametrize("case_id", ENTRY_POINTS)
def test_the_module_entry_points_answer_the_same(case_id, tmp_path, monkeypatch):
    case = next(c for c in CASES if c.id == case_id)
    if case.setup:
        SETUPS[case.setup](tmp_path, monkeypatch)
    result = run_cli(case.tool, *fill(case.argv, tmp_path), timeout=120)
    assert result.returncode == 2, result.stderr
    lines = answer_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: ") and case.expect in lines[0], result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- what should work


def test_damage_to_files_a_command_does_not_need_is_no_error(tmp_path, capsys):
    """A finished run missing metrics.csv, or its last snapshot, still opens, and says so."""
    run = _fake_run(tmp_path)
    damage(run, "metrics", "missing")
    code, out, err = call("explorer", ["summary", str(run)], capsys)
    assert code == 0 and "metrics.csv is missing" in out, err
    damage(run, "snapshot", "missing")
    code, out, err = call("explorer", ["summary", str(run), "--json"], capsys)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["epoch"] == 1 and any("last epoch (2) is missing" in note for note in summary["notes"])


@pytest.mark.parametrize("how", ["empty", "garbage", "wrong schema"])
def test_a_damaged_steps_file_is_named_where_it_is_read(tmp_path, capsys, how):
    run = _fake_run(tmp_path)
    steps = run / rundir.STEPS
    steps.write_text({"empty": "", "garbage": "\x00\xff garbage\n\x01\x02", "wrong schema": "x,y\n1,2\n"}[how])
    from explorer.runs import load_run

    with pytest.raises(rundir.RunDirError, match="steps.csv in .*restore the file"):
        load_run(run).steps()
    code, out, err = call("explorer", ["summary", str(run)], capsys)  # the summary does not need it
    assert code == 0, err


def test_list_shows_damaged_runs_as_unreadable_with_the_reason(tmp_path, capsys):
    run = _fake_run(tmp_path)
    make_fake_run(tmp_path / "runs", name="fine", n_train=40, n_test=20, n_pairs=40)
    damage(run, "status", "garbage")
    code, out, err = call("explorer", ["list", str(tmp_path / "runs")], capsys)
    assert code == 0 and "unreadable" in out and "fine" in out
    assert "run cannot be opened: status.json in" in err
    code, out, err = call("training", ["list", "--runs-dir", str(tmp_path / "runs")], capsys)
    assert code == 0 and "unreadable" in out and "status.json" in out


def test_list_of_a_missing_runs_dir_says_it_does_not_exist(tmp_path, capsys):
    code, out, _ = call("explorer", ["list", str(tmp_path / "nowhere")], capsys)
    assert code == 0 and "does not exist" in out
    code, out, _ = call("training", ["list", "--runs-dir", str(tmp_path / "nowhere")], capsys)
    assert code == 0 and "does not exist" in out


def test_the_apps_listing_of_an_unusable_runs_dir_is_empty_not_an_error(tmp_path):
    """The command lines are strict (the battery's list cases); the library's default listing,
    which the app's sidebar calls, shows no runs rather than failing the page."""
    from explorer.runs import list_runs

    (tmp_path / "file").write_text("not a folder")
    assert rundir.list_run_dirs(tmp_path / "file") == [] and list_runs(tmp_path / "file").empty
    with pytest.raises(rundir.RunDirError, match="is a file"):
        list_runs(tmp_path / "file", strict=True)


@pytest.mark.parametrize("how", ["garbage", "empty", "wrong schema", "a folder"])
def test_a_corrupt_projections_cache_is_rebuilt(tmp_path, capsys, how):
    run = _fake_run(tmp_path)
    code, out, err = call("explorer", ["project", str(run), "--method", "pca"], capsys)
    assert code == 0, err
    cache = Path(out.strip().splitlines()[-1])
    good = pd.read_parquet(cache)
    if how == "a folder":
        cache.unlink()
        cache.mkdir()
        (cache / "part.parquet").write_bytes(b"junk")
    elif how == "wrong schema":
        pd.DataFrame({"x": [0.0]}).to_parquet(cache)
    else:
        cache.write_bytes(b"" if how == "empty" else b"PAR1 not a map at all PAR1")
    code, out, err = call("explorer", ["project", str(run), "--method", "pca"], capsys)
    assert code == 0, err
    assert Path(out.strip().splitlines()[-1]) == cache
    if how != "a folder":  # a folder in its place cannot be replaced: the map is computed each time
        pd.testing.assert_frame_equal(pd.read_parquet(cache), good)
    code, out, err = call("explorer", ["summary", str(run)], capsys)
    assert code == 0, err


def train_ok(tmp_path: Path, capsys, *args: str) -> Path:
    code, out, err = call("training", ["train", "--runs-dir", str(tmp_path / "runs"), "--device", "cpu",
                                       "--epochs", "1", *args], capsys)
    assert code == 0, err
    run = Path(out.strip().splitlines()[-1])
    assert rundir.read_status(run)["state"] == rundir.FINISHED
    return run


def test_odd_folders_and_images_train(tmp_path, capsys):
    """Nested and hidden folders, class names with spaces and unicode, RGBA and 16-bit images,
    files that are not images, and a data set smaller than a batch: the run trains."""
    classes = ("with space", "ünïcødé", "plain")
    data = write_class_folders(tmp_path / "data", classes=classes, per_class=5, size=(16, 16))
    (data / "plain" / "deeper" / "deepest").mkdir(parents=True)
    Image.fromarray(np.full((16, 16), 200, np.uint8)).save(data / "plain" / "deeper" / "deepest" / "n.png")
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 128
    Image.fromarray(rgba, "RGBA").save(data / "with space" / "rgba.png")
    Image.fromarray(np.full((16, 16), 40000, np.uint16)).save(data / "ünïcødé" / "sixteen.png")
    (data / ".ipynb_checkpoints").mkdir()  # hidden: not a class
    (data / "plain" / ".hidden").mkdir()
    (data / "plain" / ".hidden" / "x.png").write_bytes(b"not read")
    (data / "plain" / "._x.png").write_bytes(b"AppleDouble, not an image")  # hidden file
    (data / "plain" / "README.txt").write_text("not an image, skipped by its suffix")

    run = train_ok(tmp_path, capsys, "--dataset", "folder", "--data-dir", str(data), "--image-size", "16",
                   "--batch-size", str(10**9), "--classes", "with space", "ünïcødé", "plain")
    config = rundir.read_config(run)
    assert config["class_names"] == sorted(classes)
    assert config["sizes"]["train"] + config["sizes"]["val"] + config["sizes"]["test"] == 18
    assert rundir.is_inside(run, tmp_path / "runs")

    from training.data import _read_gray

    assert _read_gray(str(data / "ünïcødé" / "sixteen.png"), 16).max() == round(40000 / 65535 * 255)
    gray = _read_gray(str(data / "with space" / "rgba.png"), 16)
    assert gray.min() == gray.max() == 76  # pure red through PIL's luminance, alpha dropped


def test_gzip_only_idx_files_are_read(tmp_path):
    from training.config import TrainConfig
    from training.data import load_splits

    plain = write_idx(tmp_path / "plain")
    packed = tmp_path / "packed" / "MNIST" / "raw"
    packed.mkdir(parents=True)
    for path in plain.iterdir():
        (packed / f"{path.name}.gz").write_bytes(gzip.compress(path.read_bytes()))
    a = load_splits(TrainConfig(data_dir=str(plain), classes=["1", "2"]))
    b = load_splits(TrainConfig(data_dir=str(tmp_path / "packed"), classes=["1", "2"]))
    np.testing.assert_array_equal(a.train.images, b.train.images)
    np.testing.assert_array_equal(a.test.labels, b.test.labels)


def test_summary_max_points_subsamples_with_a_notice_and_progress(tmp_path, capsys):
    run = make_fake_run(tmp_path / "runs", name="run", n_train=200, n_test=60, n_pairs=40)
    code, out, err = call("explorer", ["summary", str(run), "--json", "--max-points", "50"], capsys)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["subsample"]["max_points"] == 50
    assert "note: subsampled to at most 50 points per split (seed 0): train 50 of 200" in err
    stages = [line for line in err.splitlines() if line.startswith("[")]
    assert len(stages) >= 5 and stages[-1].endswith("summary ready")
    again = json.loads(call("explorer", ["summary", str(run), "--json", "--max-points", "50"], capsys)[1])
    assert again["knn_accuracy"] == summary["knn_accuracy"]  # seeded
    whole = json.loads(call("explorer", ["summary", str(run), "--json", "--max-points", "1000"], capsys)[1])
    assert whole["subsample"] is None and not any("subsampled" in n for n in whole["notes"])

    from explorer.runs import load_run

    smaller = load_run(run).subsample(50, seed=0)
    for split in ("train", "test", "shifted"):
        assert len(smaller.points(2, split)) <= 50
        assert set(smaller.points(1, split)["row"]) == set(smaller.points(2, split)["row"])  # same rows every epoch
    shifted, test = smaller.points(2, "shifted"), smaller.points(2, "test")
    assert set(shifted["source_index"]) <= set(test["row"])  # copies follow their sources
