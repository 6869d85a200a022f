"""``python -m training embed --model PATH``: a run directory made by the user's own model.

The model is one of
- an exported program (``torch.export.save``, ``.pt2``), read with ``torch.export.load``;
- a TorchScript file, read with ``torch.jit.load``;
- a state dict (or a run's checkpoint.pt) of one of our backbones, read with
  ``torch.load(weights_only=True)``, with ``--backbone``, ``--embedding-dim`` and ``--normalize``.
Nothing is unpickled: any other file is refused in one line, and so is an exported program whose
archive would make ``torch.export.load`` unpickle (see ``vet_exported``).

It takes a batch of normalised 1×H×W images (the training split's mean and std, as our runs) and
returns one embedding per image. The data options are ``train``'s own (the same parser actions), so
the splits, the shifted test set and the held-out classes are those a run with the same options
trains on. The run directory holds one snapshot, epoch 0 of 0, with its metrics and random pairs
(as a contrastive run draws them); it has no training curves. In config.json, ``loss`` is
``embedded`` (no seed claim counts the run) and ``embedded_from`` says where the embeddings came
from.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import sys
import warnings
import zipfile
from pathlib import Path

from training import rundir
from training.config import TrainConfig
from training.errors import InputError

EXIT_BAD_INPUT, EXIT_FAILED = 2, 1
KINDS = ("exported", "torchscript", "state-dict")
SHARED_OPTIONS = ("seed", "device", "backbone", "embedding_dim", "normalize", "runs_dir", "name")
EMBED_BATCH = 1024


def add_command(commands, add_train_options, parser_class, formatter_class) -> None:
    """The ``embed`` command, with ``train``'s data options and a few of its others (the same
    argparse actions, so their names, defaults and help stay one)."""
    embed = commands.add_parser("embed", help="embed the data set with your own model (an exported program, "
                                "TorchScript or a state dict) into a new run directory",
                                formatter_class=formatter_class, description=__doc__.split("\n\n")[0])
    scratch = parser_class(add_help=False)
    add_train_options(scratch)
    model = embed.add_argument_group("model")
    model.add_argument("--model", required=True, metavar="PATH",
                       help="an exported program (torch.export.save, .pt2), a TorchScript file, or a state "
                            "dict of --backbone (never unpickled)")
    model.add_argument("--batch-size", type=int, default=EMBED_BATCH, dest="embed_batch_size",
                       help="images per forward pass (a program exported with a fixed batch size uses its own)")
    groups = {"data": embed.add_argument_group("data")}
    for group in scratch._action_groups:
        for action in group._group_actions:
            if group.title == "data":
                groups["data"]._add_action(action)
            elif action.dest in SHARED_OPTIONS:
                (model if action.dest in ("backbone", "embedding_dim", "normalize") else
                 groups.setdefault("run", embed.add_argument_group("run")))._add_action(action)


def main(args: argparse.Namespace) -> int:
    runs_dir = args.runs_dir or str(rundir.default_runs_dir())
    options = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if hasattr(args, f.name)}
    try:
        config = TrainConfig(**{**options, "runs_dir": runs_dir, "epochs": 1}).validate()
        if args.embed_batch_size < 1:
            raise InputError(f"--batch-size must be positive, got {args.embed_batch_size}")
        run_dir = embed(config, Path(args.model), args.embed_batch_size)
    except InputError as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as e:
        print(f"error: embedding failed: {rundir.failure_reason(e)}", file=sys.stderr)
        return EXIT_FAILED
    print(run_dir)
    return 0


def embed(config: TrainConfig, path: Path, batch_size: int = EMBED_BATCH) -> Path:
    """Embed every split of ``config``'s data with the model at ``path``; return the run directory."""
    from training.snapshot import Recorder
    from training.loop import split_tensors
    from training.trainer import prepare, start_run_dir

    kind = model_kind(path)
    prepared = prepare(config)
    model = load_model(path, kind, config, int(prepared.data.train.images.shape[1]), prepared.device)
    splits = split_tensors(prepared)
    prepared.objective.to(prepared.device)  # its pairs price the one snapshot's metrics
    model.check(splits["train"].images[:2], path)
    prepared.config = dataclasses.replace(prepared.config, epochs=0, embedding_dim=model.embedding_dim,
                                          snapshot_every=1)
    model.batch_size = batch_size
    hint = "-".join(filter(None, [config.name, "embedded", path.stem, config.dataset, *config.classes]))
    run_dir = start_run_dir(prepared, model, rundir.new_run_dir(config.runs_dir, rundir.safe_name(hint, 80)))
    saved = rundir.read_config(run_dir)
    rundir.write_config(run_dir, {**saved, "loss": "embedded",  # not trained: no seed claim counts it
                                  "embedded_from": {"model": str(path), "kind": kind,
                                                    "command": "python -m training embed",
                                                    "pairs": "pairs.npz holds random pairs, for the distance "
                                                             "pages"}})
    recorder = Recorder(run_dir, prepared.config, prepared.data.class_names, splits, prepared.objective)
    try:
        recorder.record(0, model, None, 0.0)
    except BaseException as e:
        rundir.write_status(run_dir, rundir.FAILED, 0, 0, error=rundir.failure_reason(e))
        raise
    rundir.write_status(run_dir, rundir.FINISHED, 0, 0)
    return run_dir


def model_kind(path: Path) -> str:
    """Which of KINDS the file is, from the names inside its zip archive (all three are zips)."""
    if not path.is_file():
        raise InputError(f"--model {path} does not exist or is not a file")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        raise InputError(f"--model {path} is not an exported program, TorchScript file or state dict (it is "
                         f"not a zip archive; a plain pickle is never loaded): save the model with "
                         f"torch.export.save") from None
    inner = {name.split("/", 1)[-1] for name in names}
    if "archive_format" in inner or any(n.startswith("models/") for n in inner):
        return "exported"
    if "constants.pkl" in inner and any(n.startswith("code/") for n in inner):
        return "torchscript"
    return "state-dict"


class Model:
    """The user's model behind our backbones' interface: ``eval``/``train`` (which an exported
    program's module refuses), ``constructor_args`` and a call on a batch of images."""

    frozen = False

    def __init__(self, forward, name: str, kind: str, fixed_batch: int | None = None):
        self.forward, self.name, self.kind, self.fixed_batch = forward, name, kind, fixed_batch
        self.embedding_dim, self.batch_size, self.training = 0, EMBED_BATCH, False
        self.constructor_args: dict = {}

    def eval(self):
        return self

    def train(self, mode: bool = True):
        return self

    def __call__(self, images):
        import torch

        with torch.no_grad():
            if self.fixed_batch is None:
                return torch.cat([self._out(self.forward(images[i:i + self.batch_size]))
                                  for i in range(0, len(images), self.batch_size)])
            n, out = len(images), []
            for i in range(0, n, self.fixed_batch):
                batch = images[i:i + self.fixed_batch]
                padded = torch.cat([batch, batch[:1].expand(self.fixed_batch - len(batch), *batch.shape[1:])])
                out.append(self._out(self.forward(padded))[:len(batch)])
            return torch.cat(out)

    @staticmethod
    def _out(output):
        if isinstance(output, (tuple, list)):
            output = output[0]
        return output.float()

    def check(self, images, path: Path) -> None:
        """One forward pass on two images: the model must take them and give (2, D) numbers."""
        import torch

        try:
            out = self(images)
        except Exception as e:  # a model can fail in many ways; say how, in one line
            detail = " ".join(str(e).split())[:200]
            raise InputError(f"--model {path} does not take a batch of {tuple(images.shape[1:])} images "
                             f"({type(e).__name__}: {detail})") from None
        if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != len(images):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise InputError(f"--model {path} returns {shape} for {len(images)} images: it must return one "
                             f"embedding per image, (batch, D)")
        if not torch.isfinite(out).all():
            raise InputError(f"--model {path} returns NaN or infinite embeddings")
        self.embedding_dim = int(out.shape[1])
        self.constructor_args = {"embedding_dim": self.embedding_dim}


def load_model(path: Path, kind: str, config: TrainConfig, image_size: int, device) -> Model:
    import torch

    if kind == "exported":
        vet_exported(path)
        try:
            program = torch.export.load(str(path))
        except Exception as e:
            raise InputError(f"--model {path} cannot be read as an exported program ({type(e).__name__})") from None
        module = program.module().to(device)
        return Model(module, "exported", kind, _fixed_batch(program))
    if kind == "torchscript":
        try:
            module = torch.jit.load(str(path), map_location=device).eval()
        except Exception as e:
            raise InputError(f"--model {path} cannot be read as TorchScript ({type(e).__name__})") from None
        return Model(module, "torchscript", kind)
    from training import backbones

    state = read_weights(path)
    backbone = backbones.build(config.backbone, image_size=image_size, embedding_dim=config.embedding_dim,
                               normalize=config.normalize)
    state = backbone.adapt_weights(state)
    try:
        backbone.load_state_dict(state)
    except RuntimeError as e:
        first = next((line.strip() for line in str(e).splitlines()[1:] if line.strip()), str(e))
        raise InputError(f"--model {path} does not fit --backbone {config.backbone} --embedding-dim "
                         f"{config.embedding_dim}: {first[:200]}") from None
    backbone = backbone.to(device).eval()
    return Model(backbone, config.backbone, kind)


def vet_exported(path: Path) -> None:
    """Refuse an exported program that would make ``torch.export.load`` unpickle: its loader reads
    pickled weights and constants (``use_pickle``, custom and opaque objects, the legacy ``.pt``
    files) with ``weights_only=False``, and falls back to it for sample inputs that a weights-only
    load refuses. ``torch.export.save`` writes none of these for plain tensors."""
    import json

    import torch
    from torch.export.pt2_archive import constants as pt2

    def refuse(why: str) -> InputError:
        return InputError(f"--model {path} refused: {why}, which would be unpickled; export the model with "
                          f"plain tensor weights, or give its state dict")

    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            inner = name.split("/", 1)[-1]
            if inner.startswith((pt2.WEIGHTS_DIR, pt2.CONSTANTS_DIR)) and inner.endswith(".pt"):
                raise refuse(f"it holds {inner}, a pickled file of the legacy format")
            if inner.startswith((pt2.WEIGHTS_DIR, pt2.CONSTANTS_DIR)) and inner.endswith("_config.json"):
                try:
                    entries = json.loads(archive.read(name)).get("config", {})
                except (ValueError, AttributeError):
                    raise refuse(f"its {inner} is not the JSON torch.export.save writes") from None
                for fqn, meta in entries.items():
                    plain = str(meta.get("path_name", "")).startswith((pt2.WEIGHT_FILENAME_PREFIX,
                                                                        pt2.TENSOR_CONSTANT_FILENAME_PREFIX))
                    if meta.get("use_pickle") or not plain:
                        raise refuse(f"its {fqn!r} is stored as a pickled object")
            if inner.startswith(pt2.SAMPLE_INPUTS_DIR):
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", UserWarning)
                        torch.load(io.BytesIO(archive.read(name)), map_location="cpu", weights_only=True)
                except Exception:  # noqa: BLE001 - torch's loader would retry it unrestricted
                    raise refuse(f"its {inner} holds more than tensors") from None


def read_weights(path: Path) -> dict:
    """A state dict (or our checkpoint's ``model_state``), with ``weights_only=True``: a file that
    holds anything but tensors and plain containers is refused, in one line, without torch's
    two-line warning about the pickle protocol."""
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        why = "it holds pickled objects other than weights, which are never loaded" if (
            "pickle" in str(e).lower() or "weights only" in str(e).lower()) else type(e).__name__
        raise InputError(f"--model {path} refused: {why}; give an exported program (torch.export.save), "
                         f"TorchScript or a state dict") from None
    if isinstance(saved, dict):
        saved = saved.get("model_state", saved.get("state_dict", saved))
    if not isinstance(saved, dict) or not saved or not all(isinstance(v, torch.Tensor) for v in saved.values()):
        raise InputError(f"--model {path} holds no state dict of weights")
    return saved


def _fixed_batch(program) -> int | None:
    """The batch size a program was exported with, where it was exported without a dynamic one."""
    names = set(program.graph_signature.user_inputs)
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in names:
            value = node.meta.get("val")
            first = value.shape[0] if value is not None and getattr(value, "ndim", 0) else None
            return first if isinstance(first, int) else None
    return None
