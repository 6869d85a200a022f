"""The seed documents' claims, checked on the user's own runs.

Each claim (explorer.claim_checks.CLAIMS) names the presets whose runs it needs, a rule in one
sentence and a check. A claim is ``reproduced``, ``not reproduced`` or ``not yet run`` (some
preset it needs has no finished run that counts), with the measured evidence in words, each
counted run with its own value, and the runs that nearly counted with the reason they did not.

Which runs count (explorer.claim_runs): only a run that is the preset's experiment, every option
that makes it matching (data set, classes, loss and its form, regime or miner, backbone,
embedding size, epochs, normalisation, α, training shifts, and whatever else the preset sets),
except the seed and the options a claim declares free (the swept option of a sweep claim). Runs
with the same options and seed count once, and every side of a claim counts runs on the same
images (MNIST's own files, or the bundled sample; claim_runs.one_data_source).

How strong a verdict is: the fewest runs on a side. One run a side reads "reproduced in 1 run;
spread unknown"; with three or more seeds a side the difference also exceeded their spread.
Nothing here needs torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from explorer.claim_checks import CLAIMS, NOT_REPRODUCED, NOT_YET_RUN, REPRODUCED, Claim, Context, Missing
from explorer.claim_measures import cluster_size, shift_accuracies, svm_and_kmeans  # noqa: F401 - for callers
from explorer.claim_runs import presets_of as _presets_of
from explorer.claim_runs import read_runs
import runfmt as rundir
from training.presets import PRESETS

STATUSES = (REPRODUCED, NOT_REPRODUCED, NOT_YET_RUN)
SEEDS = {
    "000": "Lab report: clustering images using metric learning (in-lab and out-lab)",
    "001": "Slides: metric learning with adaptive density distribution (magnet loss)",
    "002": "Course notes: representation learning (Siamese and autoencoder)",
    "003": "Exercise report: Siamese networks and zero-shot learning (plankton images)",
    "004": "Lecture slides: comparing things with deep neural networks",
}
STRONG = 3  # seeds a side for a verdict that is not marked weak


@dataclass
class Result:
    claim: Claim
    status: str
    evidence: str
    runs: dict[str, list[str]]                  # preset -> names of the runs counted
    unfinished: dict[str, list[str]]            # preset -> runs of the experiment not finished
    missing: list[str]                          # presets with no counted run
    values: dict[str, list[str]] = field(default_factory=dict)   # preset -> "run: its value"
    near: dict[str, list[str]] = field(default_factory=dict)     # preset -> "run: not counted: why"
    duplicates: list[str] = field(default_factory=list)          # "run repeats run (same options and seed)"
    per_side: int | None = None                 # the fewest counted runs on a side of the rule

    @property
    def strength(self) -> str:
        """How much the verdict rests on: "" (not yet run), "in 1 run; spread unknown", "over 2 runs a
        side", "over 3 seeds a side"."""
        if self.status == NOT_YET_RUN or not self.per_side:
            return ""
        if self.per_side == 1:
            return "in 1 run; spread unknown"
        return f"over {self.per_side} {'seeds' if self.per_side >= STRONG else 'runs'} a side"

    @property
    def weak(self) -> bool:
        return self.status != NOT_YET_RUN and (self.per_side or 0) < STRONG

    @property
    def verdict(self) -> str:
        """The status with its strength: "reproduced in 1 run; spread unknown"."""
        return f"{self.status} {self.strength}".strip()

    def as_dict(self) -> dict:
        return {"id": self.claim.id, "seed": self.claim.seed, "claim": self.claim.statement,
                "status": self.status, "verdict": self.verdict, "evidence": self.evidence,
                "presets": list(self.claim.presets), "rule": self.claim.rule, "runs": self.runs,
                "values": self.values, "not_counted": self.near, "duplicates": self.duplicates,
                "unfinished": self.unfinished, "missing": self.missing, "needs": needs(self.claim)}


def needs(claim: Claim) -> list[str]:
    """What a claim's presets need that is not bundled (Fashion-MNIST files, a folder of images,
    pretrained weights), one line each."""
    found = {f"--{o.replace('_', '-')}: {what}" for p in claim.presets for o, what in PRESETS[p].needs.items()}
    return sorted(found)


def check_claims(runs_dir: str | os.PathLike | None = None, claims=CLAIMS) -> list[Result]:
    """Every claim against the runs under ``runs_dir`` (default: $EXPLORER_RUNS_DIR or runs/).

    A claim with a preset that has no counted finished run is ``not yet run``; so is one whose
    runs could not be measured, with the reason."""
    runs_dir = rundir.default_runs_dir() if runs_dir is None else Path(runs_dir)
    runs = read_runs(runs_dir)
    return [_check(claim, runs) for claim in claims]


def _check(claim: Claim, runs: pd.DataFrame) -> Result:
    ctx = Context(claim, runs)
    used = {p: f.counted["name"].tolist() for p, f in ctx.found.items()}
    unfinished = {p: f.unfinished for p, f in ctx.found.items() if f.unfinished}
    near = {p: [f"{n}: {why.replace('not counted', f'not counted as {p}', 1)}" for n, why in f.near]
            for p, f in ctx.found.items() if f.near}
    duplicates = [f"{a} repeats {b} (same options and seed): counted once" for f in ctx.found.values()
                  for a, b in f.duplicates]
    missing = [p for p, names in used.items() if not names]
    result = Result(claim, NOT_YET_RUN, "", used, unfinished, missing, near=near, duplicates=duplicates)
    if missing:
        waiting = sum(len(v) for v in unfinished.values())
        result.evidence = (f"no finished run of {', '.join(missing)} yet"
                           + (f"; {waiting} run{'s' if waiting != 1 else ''} still running or stopped early"
                              if waiting else "")
                           + ("; some runs nearly count (see why they do not)" if near else ""))
        return result
    try:
        result.status, result.evidence = claim.check(ctx)
        result.per_side = min(ctx.sides) if ctx.sides else None
    except Missing as e:
        result.evidence, result.missing = str(e), [claim.sweep or claim.presets[0]]
    except (rundir.RunDirError, ValueError, OSError, KeyError) as e:
        result.evidence = f"a run could not be measured: {' '.join(str(e).split())}"
    result.values = {p: v for p, v in ctx.values.items() if v}
    return result


def commands(claim: Claim, presets: list[str] | None = None, runs_dir: str | os.PathLike | None = None,
             seeds: tuple[int, ...] = (0, 1, 2), sweep: bool = False) -> list[str]:
    """The commands that run what ``claim`` needs (``presets``: only these; default all of its);
    with ``sweep``, each preset as a sweep over ``seeds``."""
    where = f" --runs-dir {runs_dir}" if runs_dir is not None else ""
    seeds_text = " ".join(map(str, seeds))
    out = []
    for preset in presets if presets is not None else claim.presets:
        files = "".join(f" --{o.replace('_', '-')} {o.upper()}" for o in PRESETS[preset].needs)
        if preset == claim.sweep or sweep:
            out.append(f"python -m training sweep --preset {preset} --seeds {seeds_text}{files}{where}")
        else:
            out.append(f"python -m training train --preset {preset}{files}{where}")
    return out


def claims_table(results: list[Result]) -> pd.DataFrame:
    """One row per claim: seed, claim, verdict (status and strength), rule, evidence, runs counted."""
    return pd.DataFrame([{"seed": r.claim.seed, "claim": r.claim.statement, "status": r.status,
                          "verdict": r.verdict, "rule": r.claim.rule, "evidence": r.evidence,
                          "runs": sum(len(v) for v in r.runs.values())} for r in results],
                        columns=["seed", "claim", "status", "verdict", "rule", "evidence", "runs"])


def format_claims(results: list[Result], runs_dir: str | os.PathLike | None = None) -> str:
    """The claims as text for a terminal: one block per claim, each counted run with its value, the
    runs not counted with why, and the commands for what is missing."""
    counts = {s: sum(r.status == s for r in results) for s in STATUSES}
    lines = [f"Seed claims checked on the runs in {runs_dir}" if runs_dir is not None else "Seed claims",
             ", ".join(f"{n} {s}" for s, n in counts.items()), ""]
    for r in results:
        lines.append(f"{r.claim.seed}  {r.claim.statement}")
        lines.append(f"     {r.verdict.upper()}: {r.evidence}")
        lines.append(f"     rule: {r.claim.rule}")
        lines += [f"     run {value}" for values in r.values.values() for value in values]
        lines += [f"     {why}" for whys in r.near.values() for why in whys]
        lines += [f"     {line}" for line in r.duplicates]
        lines += [f"     needs {line}" for line in needs(r.claim)] if r.status == NOT_YET_RUN else []
        lines += [f"     to run: {c}" for c in commands(r.claim, r.missing, runs_dir)] if r.missing else []
        lines.append("")
    lines.append("A run counts for a claim only when every option of its preset matches, the seed and the "
                 "claim's free options aside (explorer/claim_runs.py).")
    return "\n".join(lines)


def presets_of(config: dict) -> tuple[str, ...]:
    return _presets_of(config)


def claims_of_run(config: dict) -> list[Claim]:
    """The claims a run with this config counts for (by its options)."""
    found = set(presets_of(config))
    swept = [c for c in CLAIMS if c.free and not found & set(c.presets)
             and any(not _mismatch(config, p, c.free) for p in c.presets)]
    return [c for c in CLAIMS if found & set(c.presets) or c in swept]


def _mismatch(config, preset, free):
    from explorer.claim_runs import mismatches

    return mismatches(config, preset, free)


def match_runs(runs_dir: str | os.PathLike) -> pd.DataFrame:
    """One row per run under ``runs_dir`` that is some preset's experiment: name, path, state,
    presets (a tuple), embedding_dim, seed."""
    runs = read_runs(runs_dir)
    rows = [{"name": r.name, "path": r.path, "state": r.state, "presets": presets_of(r.config),
             "embedding_dim": r.config.get("embedding_dim"), "seed": r.seed} for r in runs.itertuples()]
    frame = pd.DataFrame(rows, columns=["name", "path", "state", "presets", "embedding_dim", "seed"])
    return frame[frame["presets"].map(bool)] if len(frame) else frame


CLAIMS_BY_ID = {claim.id: claim for claim in CLAIMS}
