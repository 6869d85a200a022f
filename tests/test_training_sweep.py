"""python -m training sweep: the grid of options given several values, times the seeds; refusals
before anything starts; the manifest; --parallel; restarting; two sweeps at once; Ctrl-C."""

import contextlib
import io
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT
from datafiles import write_class_folders
from training import rundir, sweep
from training.cli import build_parser, given_options, main
from training.config import TrainConfig

TINY = ["--classes", "4", "9", "--epochs", "1", "--max-train", "40", "--shifts", "3"]


def plan(*argv: str) -> tuple[dict, dict]:
    argv = ["sweep", *argv]
    return sweep.split_options(build_parser().parse_args(argv), given_options(argv))


def create(tmp_path, *argv: str) -> tuple:
    argv = ["sweep", "--runs-dir", str(tmp_path), *argv]
    return sweep.create(build_parser().parse_args(argv), given_options(argv), ["python", "-m", "training", *argv])


def exit_status(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse's own refusals
        return e.code


def manifest_of(sweep_dir) -> dict:
    return rundir.read_json(sweep_dir / sweep.MANIFEST)


# ---------------------------------------------------------------- the grid


def test_options_with_several_values_are_swept_and_list_options_stay_lists():
    fixed, swept = plan("--embedding-dim", "2", "4", "--regime", "random", "nn-other", "--classes", "4", "9",
                        "--lr", "0.01", "--shifts", "3", "6")
    assert swept == {"regime": ["random", "nn-other"], "embedding_dim": [2, 4]}  # TrainConfig's order
    assert fixed == {"classes": ["4", "9"], "lr": 0.01, "shifts": [3, 6]}


def test_every_combination_runs_once_per_seed_and_the_manifest_says_so(tmp_path):
    sweep_dir, manifest = create(tmp_path, *TINY, "--loss", "contrastive", "triplet", "--embedding-dim", "2", "8",
                                 "--seeds", "3", "5", "--lr", "0.01")
    assert manifest == manifest_of(sweep_dir)  # written as soon as it is created
    assert sweep_dir.parent == tmp_path.resolve() / "sweeps"
    assert sweep_dir.name.startswith(time.strftime("%Y%m%d-")) and "-sweep-loss-embedding_dim-" in sweep_dir.name
    assert set(manifest) == {"format_version", "name", "created_at", "command", "base", "swept", "seeds",
                             "preset", "runs"}
    assert manifest["format_version"] == 1 and manifest["name"] == sweep_dir.name and manifest["preset"] is None
    assert manifest["command"][:4] == ["python", "-m", "training", "sweep"] and "--seeds" in manifest["command"]
    assert abs(manifest["created_at"] - time.time()) < 60
    assert manifest["swept"] == {"loss": ["contrastive", "triplet"], "embedding_dim": [2, 8]}
    assert manifest["seeds"] == [3, 5]
    assert set(TrainConfig().to_dict()) - set(manifest["base"]) == {"seed", "loss", "embedding_dim"}
    assert manifest["base"]["lr"] == 0.01 and manifest["base"]["classes"] == ["4", "9"]
    assert [(r["values"]["loss"], r["values"]["embedding_dim"], r["seed"]) for r in manifest["runs"]] == [
        (loss, dim, seed) for loss in ("contrastive", "triplet") for dim in (2, 8) for seed in (3, 5)]
    assert all(r["run"] is None and r["state"] == "pending" for r in manifest["runs"])
    config = sweep.run_config(manifest, manifest["runs"][-1])
    assert (config.loss, config.embedding_dim, config.seed, config.lr) == ("triplet", 8, 5, 0.01)
    assert "loss_triplet-embedding_dim_8-seed_5" in config.run_name_hint()
    # the sweeps folder is no run: listings skip it
    assert rundir.list_run_dirs(tmp_path) == []
    from explorer.runs import list_runs

    assert list_runs(tmp_path).empty


def test_a_preset_sweeps_its_values_unless_the_command_line_gives_others(tmp_path):
    (tmp_path / "fashion").mkdir()
    fixed, swept = plan("--preset", "seed004-embedding-size", "--data-dir", str(tmp_path / "fashion"))
    assert swept == {"embedding_dim": [2, 4, 8, 32, 128]} and fixed["loss"] == "triplet"
    fixed, swept = plan("--preset", "seed004-embedding-size", "--data-dir", str(tmp_path / "fashion"),
                        "--embedding-dim", "16", "--margin", "0.5", "1")
    assert swept == {"margin": [0.5, 1.0]} and fixed["embedding_dim"] == 16 and fixed["preset"] == "seed004-embedding-size"


BAD = [
    (["--loss", "contrastive", "magnet", "--regime", "random", "nn-other"],
     "loss magnet, regime nn-other, seed 0: --regime does not apply to --loss magnet"),
    (["--loss", "magnet", "--regime", "random", "nn-other"], "--regime does not apply to --loss magnet"),
    (["--embedding-dim", "2", "2"], "--embedding-dim lists 2 twice"),
    (["--seeds", "0", "0"], "--seeds lists 0 twice"),
    (["--epochs", "1", "0"], "--epochs must be positive"),
    (["--parallel", "0"], "--parallel must be between 1 and 64"),
    (["--regime", "sideways"], "invalid choice: 'sideways'"),
    (["--preset", "seed004-embedding-size"], "needs Fashion-MNIST"),
    (["--resume", "/no/such/sweep"], "not a sweep folder"),
    (["--resume", "/no/such/sweep", "--epochs", "3"], "give only --parallel beside it, not --epochs"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_refused_in_one_line_before_anything_starts(argv, message, tmp_path, capsys):
    options = [] if "--resume" in argv else ["--runs-dir", str(tmp_path), *TINY]
    assert exit_status(["sweep", *options, *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert not list(tmp_path.iterdir())


def test_a_damaged_manifest_is_refused_on_restart(tmp_path, capsys):
    sweep_dir, manifest = create(tmp_path, *TINY)
    manifest["runs"][0]["run"] = "../outside"
    sweep.save(sweep_dir, manifest)
    assert exit_status(["sweep", "--resume", str(sweep_dir)]) == 2
    assert "damaged run entry" in capsys.readouterr().err


# ---------------------------------------------------------------- running


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
    """A sweep of two runs, trained two at a time; its runs directory and printed lines."""
    runs = tmp_path_factory.mktemp("runs")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["sweep", "--runs-dir", str(runs), *TINY, "--embedding-dim", "2", "3", "--parallel", "2"])
    return runs, code, out.getvalue().splitlines()


def test_a_sweep_trains_two_at_a_time_and_prints_its_folder_last(finished_sweep):
    runs, code, lines = finished_sweep
    assert code == 0, lines
    [sweep_dir] = (runs / "sweeps").iterdir()
    assert lines[-1] == str(sweep_dir)
    manifest = manifest_of(sweep_dir)
    assert [(r["values"], r["seed"], r["state"]) for r in manifest["runs"]] == [
        ({"embedding_dim": 2}, 0, "finished"), ({"embedding_dim": 3}, 0, "finished")]
    run_dirs = [runs / r["run"] for r in manifest["runs"]]
    assert sorted(rundir.list_run_dirs(runs)) == sorted(run_dirs)
    assert [rundir.read_config(r)["embedding_dim"] for r in run_dirs] == [2, 3]
    # one line per run started and ended; both started before either ended (--parallel 2)
    assert [line.split()[1] for line in lines[:4]] == ["started", "started", "finished", "finished"]
    a, b = (rundir.read_status(r) for r in run_dirs)
    assert a["started_at"] < b["ended_at"] and b["started_at"] < a["ended_at"]


def test_restarting_skips_finished_runs_and_continues_the_others(finished_sweep, tmp_path, capsys):
    runs = tmp_path / "runs"
    shutil.copytree(finished_sweep[0], runs)  # the manifest finds its runs beside it, wherever it lies
    [sweep_dir] = (runs / "sweeps").iterdir()
    manifest = manifest_of(sweep_dir)
    first, second = (runs / r["run"] for r in manifest["runs"])
    (first / rundir.CHECKPOINT).unlink()  # failed before its first checkpoint
    rundir.write_status(first, rundir.FAILED, 0, 1, error="disk full")
    manifest["runs"][1].update(run=None, state="pending")  # never started
    sweep.save(sweep_dir, manifest)
    shutil.rmtree(second)

    assert main(["sweep", "--resume", str(sweep_dir), "--parallel", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == str(sweep_dir)
    assert f"[1/2] resumed embedding_dim 2, seed 0: {first.name}" in lines
    assert any(line.startswith("[2/2] started embedding_dim 3, seed 0: ") for line in lines)
    manifest = manifest_of(sweep_dir)
    assert manifest["runs"][0]["run"] == first.name and rundir.read_status(first)["state"] == "finished"
    assert manifest["runs"][1]["state"] == "finished" and manifest["runs"][1]["run"] != second.name

    finished_at = {r: rundir.read_status(runs / r)["ended_at"] for r in (x["run"] for x in manifest["runs"])}
    assert main(["sweep", "--resume", str(sweep_dir)]) == 0  # all finished: nothing runs again
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines[:2]] == ["skipped", "skipped"] and lines[-1] == str(sweep_dir)
    assert {r: rundir.read_status(runs / r)["ended_at"] for r in finished_at} == finished_at
    assert len(rundir.list_run_dirs(runs)) == 2


def test_two_sweeps_at_once_in_one_runs_directory_keep_apart(tmp_path):
    command = [sys.executable, "-m", "training", "sweep", "--runs-dir", str(tmp_path), *TINY]
    processes = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    sweep_dirs = {out.splitlines()[-1] for out, _ in outputs}
    assert len(sweep_dirs) == 2 and sweep_dirs == {str(p) for p in (tmp_path / "sweeps").iterdir()}
    runs = [manifest_of(Path(sweep_dir))["runs"][0]["run"] for sweep_dir in sweep_dirs]
    assert len(set(runs)) == 2 and sorted(p.name for p in rundir.list_run_dirs(tmp_path)) == sorted(runs)
    assert all(rundir.read_status(tmp_path / r)["state"] == "finished" for r in runs)


def test_a_run_that_fails_is_recorded_and_the_sweep_exits_1(tmp_path, capsys):
    write_class_folders(tmp_path / "data")
    (tmp_path / "data" / "beta" / "broken.png").write_bytes(b"\x89PNG truncated")
    code = main(["sweep", "--runs-dir", str(tmp_path / "runs"), "--dataset", "folder", "--data-dir",
                 str(tmp_path / "data"), "--epochs", "1", "--shifts", "3"])
    assert code == 1
    lines = capsys.readouterr().out.splitlines()
    [sweep_dir] = (tmp_path / "runs" / "sweeps").iterdir()
    assert lines[-1] == str(sweep_dir) and lines[-2] == "0 of 1 runs finished"
    assert any(line.startswith("[1/1] failed seed 0") and "broken.png" in line for line in lines), lines
    assert manifest_of(sweep_dir)["runs"][0]["state"] == "failed"


def test_ctrl_c_cancels_the_running_runs_and_exits_143(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "training", "sweep", "--runs-dir", str(tmp_path),
                                "--classes", "4", "9", "--epochs", "500", "--shifts", "3"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not any("run directory:" in line for run in rundir.list_run_dirs(tmp_path)
                                             for line in _log(run)):
        time.sleep(0.3)  # the run is training, its own Ctrl-C handling in place
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    [sweep_dir] = (tmp_path / "sweeps").iterdir()
    assert out.splitlines()[-1] == str(sweep_dir) and "--resume" in err
    [entry] = manifest_of(sweep_dir)["runs"]
    assert entry["state"] == "cancelled"
    assert rundir.read_status(tmp_path / entry["run"])["state"] == "cancelled"


def _log(run_dir) -> list[str]:
    path = run_dir / rundir.LOG
    return path.read_text(errors="replace").splitlines() if path.exists() else []
