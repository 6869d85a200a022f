"""A self-contained HTML report of one run: every figure, plotly's JavaScript inlined once.

Sections: run, metrics over epochs, maps (train, test, shifted, all), pair distances and
verification, classifiers (confusions for every classifier on test, the whole shifted set and each
shift), cluster geometry, retrieval, shifts, most confused classes, identification, and the seed
claims the run takes part in (checked on the runs beside it).
"""

from __future__ import annotations

import html
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

import runfmt as rundir

from explorer import classifiers, distances, figures, map_figures, neighbours, shifts
from explorer.projection_methods import PROJECTIONS
from explorer.projections import projection
from explorer.runs import Run
from explorer.summary import analyse, format_summary, summarize

Progress = Callable[[float, str], None]

SECTIONS = (("run", "Run"), ("metrics", "Metrics over epochs"), ("maps", "Maps"),
            ("distances", "Pair distances and verification"), ("classifiers", "Classifiers"),
            ("geometry", "Cluster geometry"), ("retrieval", "Retrieval"), ("shifts", "Shifts"),
            ("confused", "Most confused classes"), ("identification", "Identification"),
            ("seeds", "Seed claims"))


def default_method(run: Run) -> str:
    """The map a report shows when none is asked for: the embedding itself if it is 2-D, else t-SNE."""
    return "raw" if run.embedding_dim == 2 else "tsne"


def build_report(run: Run, out: str | os.PathLike, epoch: int | None = None, method: str | None = None,
                 params: dict | None = None, mode: str = "shared", random_state: int = 0,
                 far: float = 0.01, progress: Progress | None = None) -> Path:
    """Write the report of ``run`` at ``epoch`` (default: the last snapshot) to ``out``."""
    out = Path(out)
    if not out.parent.is_dir():
        raise ValueError(f"cannot write {out}: the directory {out.parent} does not exist")
    if not run.epochs:
        raise ValueError(f"run {run.name} has no embedding snapshot yet; nothing to report")
    report = progress or (lambda fraction, message: None)
    method = method or default_method(run)
    epoch = run.last_epoch if epoch is None else int(epoch)
    started = time.perf_counter()

    def stage(lo, hi):  # progress of a sub-task, squeezed into [lo, hi] of the whole
        return lambda fraction, message: report(lo + (hi - lo) * fraction, message)

    analysis = analyse(run, epoch, far=far, random_state=random_state, progress=stage(0.0, 0.4))
    summary = summarize(run, analysis)
    report(0.4, f"{method} map of epoch {epoch}")
    frame = projection(run, epoch, method, params, mode, random_state=random_state, progress=stage(0.4, 0.8))
    report(0.8, "figures")
    names = run.class_names
    body: dict[str, list[str]] = {key: [] for key, _ in SECTIONS}
    add = _Adder(body)

    body["run"].append(_run_table(run, epoch))
    body["run"].append(f"<pre>{html.escape(format_summary(summary))}</pre>")

    if len(run.metrics):
        add("metrics", figures.metrics_figure(run.metrics))
        add("metrics", figures.loss_figure(run.metrics, "Train, val and test loss over epochs"))
    else:
        body["metrics"].append("<p>metrics.csv has no rows yet.</p>")

    note = frame.attrs.get("note", "")
    body["maps"].append(f"<p>{html.escape(_map_caption(frame))}{' ' + html.escape(note) if note else ''}</p>")
    for split in run.splits:
        add("maps", map_figures.scatter_figure(frame[frame["split"] == split], names,
                                           title=f"{split} set, epoch {epoch}"))
    add("maps", map_figures.scatter_figure(frame, names, title=f"all splits, epoch {epoch}", color_by="split"))
    series = _map_series(run, epoch, method, params, mode, random_state, stage(0.8, 0.9))
    if series is not None:
        add("maps", series)

    for name, rows in analysis.pair_distances.groupby("set", sort=False):
        label = "training pairs (as drawn by the run)" if name == "train" else "fresh seeded test pairs"
        add("distances", figures.histogram_figure(distances.histogram(rows["distance"], rows["y"]),
                                                  f"Distances of {label}"))
    if analysis.verification:
        curves = {name: distances.roc(rows["distance"], rows["y"])
                  for name, rows in analysis.pair_distances.groupby("set", sort=False) if name in analysis.verification}
        add("distances", figures.roc_figure(curves, analysis.verification))
        body["distances"].append(_table(pd.DataFrame(analysis.verification).T.rename_axis("pairs")))

    accuracies = analysis.accuracies.pivot(index="classifier", columns="subset", values="accuracy")
    subsets = list(dict.fromkeys(analysis.accuracies["subset"]))
    order = list(dict.fromkeys(analysis.accuracies["classifier"]))
    body["classifiers"].append(_table(accuracies.loc[order, subsets]))
    by_shift = _accuracy_by_shift(analysis.accuracies)
    if len(by_shift):
        add("classifiers", figures.accuracy_by_shift_figure(by_shift))
    for name in dict.fromkeys(e.classifier for e in analysis.evaluations):
        evals = [e for e in analysis.evaluations if e.classifier == name]
        add("classifiers", figures.confusion_grid_figure(
            [e.confusion for e in evals], [f"{e.subset} (accuracy {e.accuracy:.3f})" for e in evals],
            names, f"{classifiers.TITLES[name]}: confusion matrices, true class in rows"))
        body["classifiers"].append(f"<h3>{html.escape(classifiers.TITLES[name])}: classification report (test)</h3>")
        body["classifiers"].append(_table(evals[0].report))

    add("geometry", figures.centroid_figure(
        analysis.centroid_distances, names,
        f"Centroid distances of the test set at epoch {epoch}<br><sup>diagonal: cluster size, the mean "
        "distance of a class's points to their centroid</sup>"))
    add("geometry", figures.geometry_figure(analysis.geometry))

    body["retrieval"].append(_table(pd.DataFrame([analysis.retrieval])))

    if analysis.shift_table is not None:
        table = analysis.shift_table
        body["shifts"].append(_table(shifts.accuracy_by_shift(table)))
        add("shifts", figures.displacement_figure(table))
        for by in ("displacement", "changed"):
            add("shifts", _moved_figure(run, table, by))

    _confused_section(run, analysis, add, body)
    _identification_section(run, analysis, epoch, add, random_state)
    _seeds_section(run, body["seeds"])

    report(0.95, f"writing {out}")
    _write(out, run, body, time.perf_counter() - started)
    report(1.0, f"report written to {out}")
    return out


SERIES_EPOCHS = {name: p.series_epochs for name, p in PROJECTIONS.items()}  # maps in the per-epoch series


def series_epochs(epochs, last: int, n: int) -> list[int]:
    """Up to ``n`` snapshot epochs from the first to ``last``, evenly spread."""
    shown = [e for e in epochs if e <= last]
    if len(shown) <= n:
        return shown
    picks = np.linspace(0, len(shown) - 1, n).round().astype(int)
    return [shown[i] for i in sorted(set(picks))]


def _map_series(run: Run, epoch: int, method: str, params, mode: str, random_state: int, progress):
    """Seed 003's series: the test set's map at a few epochs, aligned from one to the next and
    drawn on one scale, so the classes are seen to separate."""
    from explorer import maps
    from explorer.projections import replay

    epochs = series_epochs(run.epochs, epoch, SERIES_EPOCHS.get(method, 4))
    if len(epochs) < 2 or "test" not in run.splits:
        return None
    frames = replay(run, epochs, method, params, mode, random_state=random_state, progress=progress)
    test = frames[frames["split"] == "test"]
    panels = [maps.Panel(f"epoch {e}", test[test["epoch"] == e]) for e in epochs]
    return maps.map_figure(panels, run.class_names, title=f"The test set's {method} map over epochs "
                           "(each map aligned to the one before, one scale for all)", height=360,
                           dragmode="pan")


class _Adder:
    """Appends a figure's HTML to a section, giving each figure its own div id."""

    def __init__(self, body):
        self.body, self.count = body, 0

    def __call__(self, section: str, fig) -> None:
        self.count += 1
        self.body[section].append(fig.to_html(full_html=False, include_plotlyjs=False,
                                              div_id=f"figure-{self.count}"))


def _map_caption(frame: pd.DataFrame) -> str:
    attrs = frame.attrs
    if attrs.get("method") == "raw":
        return "The embedding is 2-D: its coordinates are shown as they are."
    how = ("fitted on the training split; test and shifted points placed into it by transform"
           if attrs.get("mode") == "shared" else "fitted on all splits together")
    return f"{attrs.get('method')} map {how} (parameters {attrs.get('params')}, seed {attrs.get('random_state')})."


def _accuracy_by_shift(accuracies: pd.DataFrame) -> pd.DataFrame:
    """Per classifier: accuracy on the test set (shift 0) and on each shift."""
    test = accuracies[accuracies["subset"] == "test"].assign(shift=0)
    shifted = accuracies[accuracies["shift"].notna()]
    if not len(shifted):
        return shifted
    return pd.concat([test, shifted], ignore_index=True).astype({"shift": int})


def _moved_figure(run: Run, table: pd.DataFrame, by: str, n: int = 6):
    """Rows of: a test image, then its shifted copies with displacement and predicted class."""
    moved = shifts.most_moved(table, n, by=by)
    test_images, shifted_images = run.images("test"), run.images("shifted")
    names = run.class_names
    images, captions = [], []
    copies_per_source = table.groupby("source_index").size().max()
    for source in moved["source_index"]:
        copies = table[table["source_index"] == source].sort_values("shift")
        first = copies.iloc[0]
        images.append(test_images[source])
        captions.append(f"test {source}: {_name(names, first['source_prediction'])}")
        for _, c in copies.iterrows():
            images.append(shifted_images[int(c["row"])])
            captions.append(f"{int(c['shift']):+d}px d={c['displacement']:.2f} {_name(names, c['prediction'])}")
        for _ in range(copies_per_source - len(copies)):
            images.append(np.full_like(test_images[source], 255))
            captions.append("")
    title = ("Test images whose shifted copies move furthest" if by == "displacement"
             else "Test images whose shifted copies most often change class")
    return figures.image_grid_figure(images, captions, columns=int(copies_per_source) + 1,
                                     title=f"{title}<br><sup>caption: shift, distance moved, class "
                                           "predicted by k-NN</sup>")


def _name(names, label) -> str:
    label = int(label)
    return names[label] if 0 <= label < len(names) else "unassigned"


def _confused_section(run: Run, analysis, add, body) -> None:
    evaluation = analysis.evaluation("knn", "test")
    pairs = classifiers.most_confused_pairs(evaluation.confusion, run.class_names, top=3)
    body["confused"].append("<p>From the k-NN classifier on the test set.</p>")
    if not len(pairs):
        body["confused"].append("<p>No class pair is confused.</p>")
        return
    body["confused"].append(_table(pairs))
    images, names, n = run.images("test"), run.class_names, 6
    rows_of = evaluation.split_rows()  # positions in the evaluation -> rows of the test split
    blank = np.full_like(images[0], 255)
    for _, pair in pairs.iterrows():
        examples = classifiers.confused_examples(evaluation.y_true, evaluation.y_pred, pair["a"], pair["b"], n)
        grid, captions = [], []
        for true in (pair["a"], pair["b"]):  # one row per direction, as in seed 003's figure 17
            rows = examples[examples["true"] == true]
            grid += [images[rows_of[i]] for i in rows["index"]] + [blank] * (n - len(rows))
            captions += [f"test {rows_of[i]}: {names[t]} as {names[p]}" for i, t, p in
                         zip(rows["index"], rows["true"], rows["predicted"])] + [""] * (n - len(rows))
        add("confused", figures.image_grid_figure(grid, captions, columns=n,
                                                  title=f"{pair['class_a']} and {pair['class_b']}: "
                                                        f"{pair['count']} test points confused"))


def _identification_section(run: Run, analysis, epoch: int, add, random_state: int) -> None:
    """Galleries for a misclassified test point (if any) and two seeded random ones."""
    evaluation = analysis.evaluation("knn", "test")
    wrong = np.flatnonzero(evaluation.y_true != evaluation.y_pred)
    rng = np.random.default_rng(random_state)
    queries = list(wrong[:1]) + list(rng.choice(len(evaluation.y_true), size=2, replace=False))
    test_images, train_images = run.images("test"), run.images("train")
    rows_of = evaluation.split_rows()
    for position in dict.fromkeys(int(q) for q in queries):
        row = int(rows_of[position])
        found = neighbours.gallery(run, "test", row, epoch, reference="train", k=10)
        label = run.class_names[int(evaluation.y_true[position])]
        add("identification", figures.gallery_figure(
            test_images[row], found, train_images[found["row"].to_numpy()], query_caption=f"test {row}: {label}",
            title=f"Nearest training points of test point {row} ({label})"))


def _seeds_section(run: Run, out: list[str]) -> None:
    """The seed claims this run takes part in (by its preset, else its options; explorer.seeds),
    checked on the runs beside it in its runs directory."""
    from explorer import seeds

    claims = seeds.claims_of_run(run.config)
    where = run.path.parent
    if not claims:
        out.append(f"<p>This run matches no seed preset, so it takes part in no seed claim. "
                   f"<code>python -m explorer seeds {html.escape(str(where))}</code> checks every claim on "
                   f"the runs in its folder.</p>")
        return
    try:
        results = seeds.check_claims(where, claims=claims)
    except Exception as e:  # noqa: BLE001 - the report is still written, with the reason
        out.append(f"<p>The seed claims could not be checked: {html.escape(' '.join(str(e).split()))}</p>")
        return
    out.append(f"<p>The claims this run's preset takes part in, checked on the finished runs in "
               f"{html.escape(str(where))}. <code>python -m explorer seeds {html.escape(str(where))}</code> "
               f"checks every claim.</p>")
    rows = pd.DataFrame([{"seed": r.claim.seed, "claim": r.claim.statement, "status": r.verdict,
                          "evidence": r.evidence, "checked": r.claim.rule,
                          "to run": "; ".join(seeds.commands(r.claim, r.missing, where))} for r in results])
    out.append(rows.to_html(classes="table claims", border=0, index=False, escape=True))


def _run_table(run: Run, epoch: int) -> str:
    keys = ("dataset", "class_names", "loss", "regime", "embedding_dim", "margin", "epochs",
            "batch_size", "lr", "seed", "shifts", "nn_k")
    rows = {k: run.config.get(k) for k in keys if k in run.config}
    from explorer.runs import method_words

    rows.pop("regime", None)
    rows["method"] = method_words(run.config)  # the loss and its regime or miner; none for magnet
    rows = {"run": run.name, "state": run.describe(), "report epoch": epoch, **rows}
    return _table(pd.DataFrame({"value": [str(v) for v in rows.values()]}, index=list(rows)))


def _table(frame: pd.DataFrame) -> str:
    numbered = isinstance(frame.index, pd.RangeIndex)  # a bare row count says nothing
    return frame.to_html(float_format=lambda v: f"{v:.4f}", classes="table", border=0, na_rep="",
                         index=not numbered)


def _write(out: Path, run: Run, body: dict[str, list[str]], seconds: float) -> None:
    from plotly.offline import get_plotlyjs

    nav = " · ".join(f'<a href="#{key}">{title}</a>' for key, title in SECTIONS)
    sections = "\n".join(f'<section id="{key}"><h2>{title}</h2>\n' + "\n".join(body[key]) + "</section>"
                         for key, title in SECTIONS)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Embedding report: {html.escape(run.name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; padding: 0 1em; }}
table.table {{ border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }}
table.table td, table.table th {{ padding: 0.2em 0.6em; border-bottom: 1px solid #ddd; text-align: right; }}
table.claims td {{ text-align: left; vertical-align: top; }}
section {{ margin-bottom: 3em; }} nav {{ margin-bottom: 2em; }} pre {{ background: #f6f6f6; padding: 1em; }}
</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body>
<h1>Embedding report: {html.escape(run.name)}</h1>
<nav>{nav}</nav>
{sections}
<footer><p>Written by python -m explorer report in {seconds:.1f} s.</p></footer>
</body></html>
"""
    rundir.atomic_write(out, lambda f: f.write(page.encode("utf-8")), "wb")
