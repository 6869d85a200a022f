"""``python -m explorer import FILE`` and ``python -m explorer export RUN --tensorboard DIR``:
runs in from the formats the field exchanges, and out to the tools it already uses.

Both print what they wrote as the last line; bad input is one line ``error: ...``, exit 2 (a
ValueError, as explorer.cli answers it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import runfmt as rundir


def add_commands(commands) -> None:
    imp = commands.add_parser("import", help="make a run directory of embeddings computed elsewhere "
                              "(Parquet, .npy or .npz); print it")
    imp.add_argument("file", help="Parquet with a list column or e0..eD columns and a label column; or .npy/.npz")
    imp.add_argument("--runs-dir", default=None,
                     help=f"where the run is written (default: ${rundir.ENV_RUNS_DIR} or ./{rundir.DEFAULT_RUNS_DIR})")
    imp.add_argument("--label", default="label", help="the label column of a Parquet file (default: label)")
    imp.add_argument("--vector", default=None, metavar="COLUMN",
                     help="the list column that holds the embedding (default: the only list column, or e0..eD)")
    imp.add_argument("--labels", default=None, metavar="FILE",
                     help="labels of a .npy/.npz: one a line, or a .npy (default: the .npz's labels array)")
    imp.add_argument("--images-dir", default=None, metavar="DIR",
                     help="the folder that the image column's paths are relative to (none may lead outside it)")
    imp.add_argument("--image-size", type=int, default=28, help="images are made grayscale squares this wide")
    imp.add_argument("--test-fraction", type=float, default=0.2,
                     help="without a split column: share of each class put in test (default: 0.2)")
    imp.add_argument("--seed", type=int, default=0, help="seed of that split and of the pairs (default: 0)")
    imp.add_argument("--name", default=None, help="label added to the run directory's name")

    export = commands.add_parser("export", help="write a run for TensorBoard: its projector and its scalars")
    export.add_argument("run_dir", help="the run directory")
    export.add_argument("--tensorboard", required=True, metavar="DIR", help="the TensorBoard log folder to write")
    export.add_argument("--epoch", type=int, help="snapshot epoch (default: the last)")
    export.add_argument("--splits", nargs="+", default=None, metavar="SPLIT",
                        help="the splits to put in the projector (default: all of the run's)")
    export.add_argument("--max-points", type=int, default=None, metavar="N",
                        help="a seeded subsample of at most N points (default: as many as the sprite can show)")


def run(args) -> int:
    if args.command == "import":
        from explorer.importer import import_file

        if not 8 <= args.image_size <= 512:
            raise ValueError(f"--image-size must be between 8 and 512, got {args.image_size}")
        run_dir, notes = import_file(args.file, args.runs_dir or rundir.default_runs_dir(), args.label, args.vector,
                                     args.labels, args.images_dir, args.image_size, args.name,
                                     args.test_fraction, args.seed)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        print(run_dir)
        return 0
    from explorer.runs import load_run
    from explorer.tensorboard_export import export

    written = export(load_run(args.run_dir), Path(args.tensorboard), args.epoch, args.splits, args.max_points)
    for note in written.notes:
        print(f"note: {note}", file=sys.stderr)
    print(written.log_dir)
    return 0
