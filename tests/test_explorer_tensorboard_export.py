"""python -m explorer export RUN --tensorboard DIR, read back with TensorBoard's own readers."""

import numpy as np
import pandas as pd
from fakerun import make_fake_run
from google.protobuf import text_format
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig
from tensorboard.plugins.projector.projector_plugin import _read_tensor_tsv_file

from explorer import tensorboard_export
from explorer.classifiers import classify
from explorer.runs import load_run
from training import rundir


def projector(log_dir):
    config = ProjectorConfig()
    text_format.Parse((log_dir / tensorboard_export.PROJECTOR_CONFIG).read_text(), config)
    return config


def test_export_writes_the_projector_and_the_scalars(cli, tmp_path):
    path = make_fake_run(tmp_path / "runs", "fake", n_classes=3, dim=4, epochs=2)
    result = cli("explorer", "export", str(path), "--tensorboard", str(tmp_path / "tb"), "--epoch", "1",
                 "--splits", "train", "test", "shifted")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(tmp_path / "tb")
    run = load_run(path)
    [embedding] = projector(tmp_path / "tb").embeddings
    tensors = _read_tensor_tsv_file(str(tmp_path / "tb" / embedding.tensor_path))
    points = run.points(1)
    np.testing.assert_allclose(tensors, points[rundir.embedding_columns(points)].to_numpy(), rtol=1e-6)
    meta = pd.read_csv(tmp_path / "tb" / embedding.metadata_path, sep="\t", dtype={"label": str})
    assert meta["label"].tolist() == points["class_name"].astype(str).tolist()
    assert meta["split"].tolist() == points["split"].tolist() and meta["shift"].tolist() == points["shift"].tolist()
    assert set(meta.loc[meta["split"] == "train", "knn"]) == {"fitted"}
    for e in classify(run, 1, ("knn",)):
        if e.subset in ("test", "shifted"):
            assert (meta.loc[meta["split"] == e.subset, "knn"] == "right").sum() == (e.y_pred == e.y_true).sum()
    sprite = Image.open(tmp_path / "tb" / embedding.sprite.image_path)
    assert list(embedding.sprite.single_image_dim) == [28, 28] and max(sprite.size) <= 8192
    cells = sprite.size[0] // 28
    assert cells * cells >= len(points) and (cells - 1) ** 2 < len(points)
    first = np.asarray(sprite)[:28, :28]
    assert np.array_equal(first, run.images(points["split"][0])[points["row"][0]])

    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    test = run.metrics[run.metrics["split"] == "test"]
    knn = events.Scalars("test/knn_accuracy")
    assert [s.step for s in knn] == test["epoch"].tolist()
    np.testing.assert_allclose([s.value for s in knn], test["knn_accuracy"], rtol=1e-6)
    steps = events.Scalars(tensorboard_export.STEP_TAG)
    assert [s.step for s in steps] == run.steps()["iteration"].tolist()


def test_more_points_than_the_sprite_holds_are_subsampled_and_said(tmp_path, monkeypatch):
    path = make_fake_run(tmp_path / "runs", "fake", n_classes=2, dim=2, epochs=1)
    monkeypatch.setattr(tensorboard_export, "SPRITE_LIMIT", 28 * 5)  # 25 thumbnails
    written = tensorboard_export.export(load_run(path), tmp_path / "tb")
    assert written.points == 25 and "subsample" in written.notes[0] and "25 of" in written.notes[0]
    [embedding] = projector(tmp_path / "tb").embeddings
    assert len(_read_tensor_tsv_file(str(tmp_path / "tb" / embedding.tensor_path))) == 25
    assert Image.open(tmp_path / "tb" / embedding.sprite.image_path).size == (140, 140)
