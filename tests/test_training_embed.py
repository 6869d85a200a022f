"""python -m training embed: the user's own model (exported, TorchScript or a state dict) makes a
run directory with one snapshot that every analysis opens."""

import pickle

import numpy as np
import pytest
import torch

from explorer.runs import load_run
from training import backbones, rundir

DATA = ["--classes", "4", "7", "8", "9", "--holdout-classes", "7", "8", "--max-train", "80", "--shifts", "3",
        "--seed", "3"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from tests.conftest import run_cli

    runs = tmp_path_factory.mktemp("runs")
    result = run_cli("training", "train", *DATA, "--epochs", "1", "--device", "cpu", "--runs-dir", str(runs))
    assert result.returncode == 0, result.stderr
    return runs, result.stdout.strip().splitlines()[-1]


def ours(run_dir) -> torch.nn.Module:
    checkpoint = rundir.read_checkpoint(run_dir)
    model = backbones.build(checkpoint["backbone"], **checkpoint["model_args"])
    model.load_state_dict(checkpoint["model_state"])
    return model.eval()


def embedded(cli, runs, model, *extra):
    result = cli("training", "embed", "--model", str(model), *DATA, "--device", "cpu", "--runs-dir", str(runs),
                 *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def assert_same_embeddings(run_a, run_b):
    a, b = load_run(run_a), load_run(run_b)
    assert b.splits == a.splits == ["train", "test", "shifted", "heldout"]
    for split in a.splits:
        pa, pb = a.points(split=split), b.points(split=split)
        assert pa["row"].tolist() == pb["row"].tolist() and pa["label"].tolist() == pb["label"].tolist()
        Xa, _ = a.embeddings(split=split)
        Xb, _ = b.embeddings(split=split)
        np.testing.assert_allclose(Xb, Xa, atol=1e-5)
        assert np.array_equal(a.images(split), b.images(split))


def test_an_exported_model_embeds_as_the_run_it_came_from(cli, trained, tmp_path):
    runs, run_dir = trained
    model = ours(run_dir)
    example = torch.zeros(5, 1, 28, 28)
    program = torch.export.export(model, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, tmp_path / "model.pt2")
    out = embedded(cli, runs, tmp_path / "model.pt2")
    assert_same_embeddings(run_dir, out)
    run = load_run(out)
    assert run.state == "finished" and run.epochs == [0] and run.steps().empty
    assert run.config["embedded_from"]["kind"] == "exported" and run.config["loss"] == "embedded"
    assert "embedded-model-mnist" in run.name
    assert set(run.metrics["split"]) >= {"test", "shifted"}  # k-NN accuracy of its one snapshot
    assert rundir.read_pairs(out)["test_pairs"].shape[1] == 3


def test_a_program_exported_with_a_fixed_batch_still_embeds_every_image(cli, trained, tmp_path):
    runs, run_dir = trained
    program = torch.export.export(ours(run_dir), (torch.zeros(7, 1, 28, 28),))
    torch.export.save(program, tmp_path / "fixed.pt2")
    assert_same_embeddings(run_dir, embedded(cli, runs, tmp_path / "fixed.pt2"))


def test_a_state_dict_of_our_backbone_and_torchscript_embed_alike(cli, trained, tmp_path):
    runs, run_dir = trained
    torch.save(ours(run_dir).state_dict(), tmp_path / "weights.pt")
    assert_same_embeddings(run_dir, embedded(cli, runs, tmp_path / "weights.pt", "--backbone", "seed-cnn",
                                             "--embedding-dim", "2"))
    torch.jit.trace(ours(run_dir), torch.zeros(2, 1, 28, 28)).save(str(tmp_path / "model.ts"))
    assert_same_embeddings(run_dir, embedded(cli, runs, tmp_path / "model.ts"))


def test_a_state_dict_that_does_not_fit_is_one_line(cli, trained, tmp_path):
    runs, run_dir = trained
    torch.save(ours(run_dir).state_dict(), tmp_path / "weights.pt")
    result = cli("training", "embed", "--model", str(tmp_path / "weights.pt"), "--embedding-dim", "8",
                 "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "does not fit --backbone seed-cnn" in result.stderr
    assert not (tmp_path / "runs").exists() or rundir.list_run_dirs(tmp_path / "runs") == []


class Planted:
    def __reduce__(self):
        return (print, ("unpickled!",))


@pytest.mark.parametrize("how", ["pickle", "torch.save"])
def test_a_planted_pickle_is_refused_in_one_line(cli, tmp_path, how):
    path = tmp_path / "model.pt"
    if how == "pickle":
        path.write_bytes(pickle.dumps(Planted()))
    else:
        torch.save({"weights": Planted()}, path)
    for command in (["training", "embed", "--model", str(path)],
                    ["training", "train", "--pretrained", str(path), "--epochs", "1"]):
        result = cli(*command, "--runs-dir", str(tmp_path / "runs"))
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "unpickled!" not in result.stdout + result.stderr and "Warning" not in result.stderr


def test_every_page_opens_an_embedded_run(cli, trained, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest
    from test_app import APP, PAGE_COMPARE, TABS, TIMEOUT, assert_clean, text_of

    runs, run_dir = trained
    torch.save(ours(run_dir).state_dict(), tmp_path / "weights.pt")
    out = embedded(cli, runs, tmp_path / "weights.pt")
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(runs))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["run_choice"] = out
    for tab in [*TABS, "Enrol unseen classes"]:  # held-out classes 7 and 8: the enrolment tab too
        at.session_state["analysis_tab"] = tab
        at.run()
        assert_clean(at)
    at.session_state["analysis_tab"] = "Metrics over epochs"
    at.run()
    assert "No training curves" in text_of(at)
    assert "Enrol unseen classes" in [t.label for t in at.tabs]
    at.switch_page(PAGE_COMPARE).run()
    assert_clean(at)


def rewritten(source, target, replace: dict) -> None:
    """A copy of the zip ``source`` with the members whose names end with a key of ``replace``
    given its bytes."""
    import zipfile

    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            for suffix, value in replace.items():
                if item.filename.endswith(suffix):
                    data = value
            new.writestr(item, data)


@pytest.mark.parametrize("where", ["sample inputs", "pickled weight"])
def test_an_exported_program_that_would_unpickle_is_refused(cli, tmp_path, where):
    import io
    import json

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 2)).eval()
    torch.export.save(torch.export.export(model, (torch.zeros(2, 1, 28, 28),)), tmp_path / "clean.pt2")
    planted = io.BytesIO()
    torch.save({"x": Planted()}, planted)
    if where == "sample inputs":
        replace = {"data/sample_inputs/model.pt": planted.getvalue()}
    else:
        import zipfile

        name = next(n for n in zipfile.ZipFile(tmp_path / "clean.pt2").namelist() if n.endswith("weights_config.json"))
        config = json.loads(zipfile.ZipFile(tmp_path / "clean.pt2").read(name))
        config["config"]["1.weight"]["use_pickle"] = True
        replace = {"weights_config.json": json.dumps(config).encode(), "data/weights/weight_0": planted.getvalue()}
    rewritten(tmp_path / "clean.pt2", tmp_path / "planted.pt2", replace)
    result = cli("training", "embed", "--model", str(tmp_path / "planted.pt2"), "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "refused" in result.stderr, result.stderr
    assert "unpickled!" not in result.stdout + result.stderr
