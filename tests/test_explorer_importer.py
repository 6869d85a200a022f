"""python -m explorer import: embeddings computed elsewhere become a run directory of ours."""

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from explorer.importer import IMPORTED_MAP, import_file
from explorer.projections import projection
from explorer.runs import load_run
from explorer.summary import summarize
from training import rundir


def blobs(n_per_class=12, dim=4, classes=("cat", "dog", "eel"), seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(classes, n_per_class)
    centres = {c: rng.normal(size=dim) * 8 for c in classes}
    X = np.stack([centres[c] + rng.normal(size=dim) for c in labels]).astype(np.float32)
    return X, labels


def png(value: int) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.full((10, 10), value, np.uint8)).save(out, format="PNG")
    return out.getvalue()


def test_parquet_with_a_list_column_png_bytes_and_x_y(cli, tmp_path):
    X, labels = blobs()
    frame = pd.DataFrame({"id": range(len(X)), "label": labels, "embedding": list(X),
                          "image": [png(i * 7) for i in range(len(X))],
                          "x": X[:, 0] * 2, "y": X[:, 1] - 1})
    frame.to_parquet(tmp_path / "emb.parquet")
    result = cli("explorer", "import", str(tmp_path / "emb.parquet"), "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr
    assert "no split column: a seeded stratified split" in result.stderr
    run_dir = result.stdout.strip().splitlines()[-1]
    run = load_run(run_dir)
    assert run.state == "finished" and run.splits == ["train", "test"] and run.class_names == ["cat", "dog", "eel"]
    counts = run.points()[["split", "class_name"]].value_counts()
    assert all(counts[("test", c)] >= 2 for c in run.class_names)  # stratified: every class in test
    points = run.points()
    back = np.concatenate([X[labels == c] for c in run.class_names])  # as a check of content, not order
    assert np.allclose(np.sort(points[rundir.embedding_columns(points)].to_numpy(), axis=0), np.sort(back, axis=0))
    # each point's image is the one of its row: image value i * 7 carries the row i
    ids = run.images("train")[:, 0, 0] // 7
    train = run.points(split="train")
    assert np.allclose(train[rundir.embedding_columns(train)].to_numpy(), X[ids[train["row"]]])
    imported = projection(run, method="imported")
    assert np.allclose(imported.sort_values(["split", "row"])["x"].to_numpy(),
                       np.concatenate([X[ids, 0] * 2 for ids in (
                           run.images(s)[:, 0, 0].astype(int) // 7 for s in ("test", "train"))]))
    summary = summarize(run)
    assert summary  # every figure of the summary computes on an imported run
    assert not any(p.is_symlink() for p in (tmp_path / "runs").rglob("*"))


def test_e_columns_with_image_paths_and_a_split(tmp_path):
    X, labels = blobs(n_per_class=6)
    (tmp_path / "pics" / "sub").mkdir(parents=True)
    paths = []
    for i in range(len(X)):
        Image.fromarray(np.full((5, 5), i, np.uint8)).save(tmp_path / "pics" / "sub" / f"{i}.png")
        paths.append(f"sub/{i}.png")
    frame = pd.DataFrame({f"e{d}": X[:, d] for d in range(X.shape[1])})
    frame["label"], frame["image"] = labels, paths
    frame["split"] = np.where(np.arange(len(X)) % 3 == 0, "test", "train")
    frame.to_parquet(tmp_path / "emb.parquet")
    run_dir, notes = import_file(tmp_path / "emb.parquet", tmp_path / "runs", images_dir=tmp_path / "pics",
                                 image_size=16)
    run = load_run(run_dir)
    assert notes == [] and run.snapshots.rows == {"train": 12, "test": 6}
    assert run.images("test").shape == (6, 16, 16) and run.images("test")[1, 0, 0] == 3
    assert not (run.path / rundir.PROJECTIONS_DIR / IMPORTED_MAP).exists()


def test_npy_with_a_labels_file_and_npz_with_labels(tmp_path):
    X, labels = blobs()
    np.save(tmp_path / "emb.npy", X)
    (tmp_path / "labels.txt").write_text("\n".join(labels))
    run = load_run(import_file(tmp_path / "emb.npy", tmp_path / "runs", labels_file=tmp_path / "labels.txt")[0])
    assert run.embedding_dim == 4 and len(run.points()) == len(X) and run.images("train").shape[1:] == (8, 8)
    np.savez(tmp_path / "emb.npz", embeddings=X, labels=np.arange(len(X)) % 2)
    run = load_run(import_file(tmp_path / "emb.npz", tmp_path / "runs")[0])
    assert run.class_names == ["0", "1"]


def bad_parquet(tmp_path, **columns):
    pd.DataFrame(columns).to_parquet(tmp_path / "bad.parquet")
    return tmp_path / "bad.parquet"


@pytest.mark.parametrize("case, words", [
    ("ragged", ["bad.parquet", "'embedding'", "ragged"]),
    ("nan", ["bad.parquet", "'e1'", "NaN"]),
    ("no label", ["bad.parquet", "'label'", "no label column"]),
    ("count", ["labels.txt", "3 labels for the 4 embeddings"]),
    ("outside", ["bad.parquet", "'image'", "outside --images-dir"]),
])
def test_bad_input_is_one_line_naming_the_file_and_column(cli, tmp_path, case, words):
    extra = []
    if case == "ragged":
        path = bad_parquet(tmp_path, label=["a", "b"], embedding=[[1.0, 2.0], [1.0, 2.0, 3.0]])
    elif case == "nan":
        path = bad_parquet(tmp_path, label=["a", "b"], e0=[1.0, 2.0], e1=[0.5, np.nan])
    elif case == "no label":
        path = bad_parquet(tmp_path, klass=["a", "b"], e0=[1.0, 2.0])
    elif case == "count":
        path = tmp_path / "emb.npy"
        np.save(path, np.zeros((4, 2), np.float32))
        (tmp_path / "labels.txt").write_text("a\nb\na\n")
        extra = ["--labels", str(tmp_path / "labels.txt")]
    else:
        (tmp_path / "pics").mkdir()
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "secret.png")
        path = bad_parquet(tmp_path, label=["a", "b"], e0=[1.0, 2.0], image=["../secret.png", "../secret.png"])
        extra = ["--images-dir", str(tmp_path / "pics")]
    result = cli("explorer", "import", str(path), "--runs-dir", str(tmp_path / "runs"), *extra)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: "), result.stderr
    assert all(w in result.stderr for w in words), result.stderr
    assert not (tmp_path / "runs").exists() or rundir.list_run_dirs(tmp_path / "runs") == []
