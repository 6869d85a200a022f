"""The statistics of a sweep (explorer.sweeps reads it): ``aggregate`` the mean, std and n over
seeds per grid point, ``differences`` which differences between grid points exceed the spread
between seeds (``DIFFERENCE_RULE``; ``compare_values`` for any two sets of per-seed values), and
``sweep_figure`` each metric against the swept value with mean ± std.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from explorer.sweeps import FINISHED, METRICS, point_label, show_value

ALL_PAIRS_UP_TO = 5  # with this many grid points or fewer, every pair is compared; else adjacent ones

DIFFERENCE_RULE = (
    "A difference exceeds the spread between seeds when |Δ mean| is larger than the pooled "
    "standard deviation over seeds of the two grid points (n − 1 in each), i.e. an effect size "
    "above 1; Welch's t-test p-value is given beside it. With fewer than two finished seeds on "
    "a side the spread is unknown, and nothing is claimed.")


def aggregate(table: pd.DataFrame, metric: str, by: list[str] | None = None) -> pd.DataFrame:
    """Per grid point (the ``by`` columns, default the swept options): mean, std (n − 1; NaN for
    one seed), n (finished runs with a value) and values (each seed's, as a tuple), over the
    finished runs. Every grid point of the sweep is a row, in the order of the swept values,
    also one with no finished run yet (n 0)."""
    swept = table.attrs.get("swept") or {}
    by = list(by if by is not None else swept)
    if metric not in table:
        raise ValueError(f"the table has no column {metric!r}; it has {', '.join(map(str, table.columns))}")
    missing = [b for b in by if b not in table]
    if missing:
        raise ValueError(f"the table has no swept option {', '.join(missing)}")
    grid = [dict(zip(by, combo)) for combo in itertools.product(*(swept.get(b) or _unique(table[b]) for b in by))]
    done = table[(table["state"] == FINISHED) & table[metric].notna()]
    rows = []
    for point in grid:
        mask = np.ones(len(done), bool)
        for k, v in point.items():
            mask &= np.array([found == v for found in done[k]], bool).reshape(-1)
        found = done[mask]
        values = tuple(float(v) for v in found[metric])
        rows.append({**point, "mean": float(np.mean(values)) if values else np.nan,
                     "std": float(np.std(values, ddof=1)) if len(values) > 1 else np.nan,
                     "n": len(values), "values": values, "seeds": tuple(found["seed"].tolist())})
    frame = pd.DataFrame(rows, columns=[*by, "mean", "std", "n", "values", "seeds"])
    frame.attrs.update(metric=metric, by=by, swept={b: swept.get(b) or _unique(table[b]) for b in by})
    return frame


def _unique(column: pd.Series) -> list:
    return list(dict.fromkeys(v for v in column if v is not None and not (isinstance(v, float) and math.isnan(v))))


def differences(agg: pd.DataFrame, pairs: str = "auto") -> pd.DataFrame:
    """Which differences between grid points exceed the spread between seeds (DIFFERENCE_RULE).

    ``pairs``: "all" compares every two grid points, "adjacent" neighbouring values of one swept
    option with the others held equal, "auto" all pairs up to ALL_PAIRS_UP_TO grid points and
    adjacent ones beyond. Grid points without a finished run are left out. Columns: a, b (the
    points in words), mean_a, mean_b, n_a, n_b, delta (mean_b − mean_a), pooled_std, welch_p,
    exceeds (True, False, or None when a side has fewer than two seeds), verdict (in words).
    ``attrs["rule"]`` states the rule.
    """
    if pairs not in ("auto", "all", "adjacent"):
        raise ValueError(f"pairs must be 'auto', 'all' or 'adjacent', got {pairs!r}")
    by = list(agg.attrs.get("by") or [c for c in agg.columns if c not in ("mean", "std", "n", "values", "seeds")])
    points = agg[agg["n"] > 0].reset_index(drop=True)
    if pairs == "auto":
        pairs = "all" if len(points) <= ALL_PAIRS_UP_TO else "adjacent"
    chosen = []
    if pairs == "all":
        chosen = list(itertools.combinations(range(len(points)), 2))
    else:
        order = agg.attrs.get("swept") or {b: _unique(agg[b]) for b in by}
        for i, j in itertools.combinations(range(len(points)), 2):
            a, b = points.iloc[i], points.iloc[j]
            changed = [k for k in by if a[k] != b[k]]
            if len(changed) == 1:
                values = list(order.get(changed[0]) or [])
                if a[changed[0]] in values and b[changed[0]] in values and \
                        abs(values.index(a[changed[0]]) - values.index(b[changed[0]])) == 1:
                    chosen.append((i, j))
    rows = [_difference(points.iloc[i], points.iloc[j], by) for i, j in chosen]
    frame = pd.DataFrame(rows, columns=["a", "b", "mean_a", "mean_b", "n_a", "n_b", "delta", "pooled_std",
                                        "welch_p", "exceeds", "verdict"])
    frame.attrs.update(rule=DIFFERENCE_RULE, metric=agg.attrs.get("metric"), pairs=pairs)
    return frame


def compare_values(a, b) -> dict:
    """Two sets of per-seed values: their means, the difference b − a, the pooled std, Welch's p
    and whether the difference exceeds the spread between seeds (None: fewer than two seeds on a
    side)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    mean_a, mean_b = (float(a.mean()) if len(a) else np.nan), (float(b.mean()) if len(b) else np.nan)
    delta = mean_b - mean_a
    pooled, p, exceeds = np.nan, np.nan, None
    if len(a) >= 2 and len(b) >= 2:
        pooled = float(np.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2)))
        exceeds = bool(abs(delta) > pooled)
        if a.var() > 0 or b.var() > 0:
            import warnings

            from scipy import stats

            with warnings.catch_warnings():  # nearly equal values: scipy warns of precision, p stays usable
                warnings.simplefilter("ignore", RuntimeWarning)
                p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
        elif delta != 0:
            p = 0.0
    return {"mean_a": mean_a, "mean_b": mean_b, "n_a": len(a), "n_b": len(b), "delta": delta,
            "pooled_std": pooled, "welch_p": p, "exceeds": exceeds}


def _difference(a: pd.Series, b: pd.Series, by: list[str]) -> dict:
    found = compare_values(a["values"], b["values"])
    if found["exceeds"] is None:
        verdict = "too few seeds to tell (fewer than two finished on a side)"
    elif found["exceeds"]:
        verdict = f"yes: {'higher' if found['delta'] > 0 else 'lower'} by more than the spread between seeds"
        if not found["welch_p"] < 0.05:
            verdict += f" (but Welch p {found['welch_p']:.2g}: not significant at 0.05 with these seeds)"
    else:
        verdict = "no: within the spread between seeds"
    return {"a": point_label({k: a[k] for k in by}), "b": point_label({k: b[k] for k in by}), **found,
            "verdict": verdict}


# ---------------------------------------------------------------- the figure


def sweep_figure(table: pd.DataFrame, metrics: list[str] | None = None, x: str | None = None,
                 title: str | None = None):
    """One panel per metric (the METRICS that any finished run has), the metric against the
    swept option ``x`` (default: the one with most values), mean ± std over the finished seeds
    as error bars, one line per value of the other swept options (drawn a little apart), and
    each seed's value as a small faint dot beside its mean. The swept values sit evenly spaced in
    their given order (x positions 0, 1, ...; the ticks name them). A point with one seed has no
    error bar."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    swept = table.attrs.get("swept") or {}
    if not swept:
        raise ValueError("the sweep sweeps no option: there is no value to plot against")
    x = x or max(swept, key=lambda k: len(swept[k]))
    if x not in swept:
        raise ValueError(f"{x!r} is not a swept option; the sweep sweeps {', '.join(swept)}")
    done = table[table["state"] == FINISHED]
    metrics = [m for m in (metrics or list(METRICS)) if m in table and done[m].notna().any()]
    others = [k for k in swept if k != x]
    ticks = [show_value(v) for v in swept[x]]
    fig = make_subplots(rows=1, cols=max(len(metrics), 1), subplot_titles=[METRICS.get(m, m) for m in metrics],
                        horizontal_spacing=0.08)
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
    position = {v: i for i, v in enumerate(swept[x])}  # the swept values, evenly spaced in their order
    for col, metric in enumerate(metrics, start=1):
        agg = aggregate(table, metric)
        groups = [((), agg)] if not others else list(agg.groupby(others, sort=False))
        for g, (key, part) in enumerate(groups):
            key = key if isinstance(key, tuple) else (key,)
            name = point_label(dict(zip(others, key))) if others else "mean ± std over seeds"
            colour = palette[g % len(palette)]
            dodge = (g - (len(groups) - 1) / 2) * min(0.08, 0.3 / max(len(groups), 1))  # lines side by side
            shown = part[part["n"] > 0]
            where = [position[v] + dodge for v in shown[x]]
            fig.add_trace(go.Scatter(
                x=where, y=shown["mean"],
                error_y={"type": "data", "array": shown["std"].fillna(0).tolist(), "visible": True},
                mode="lines+markers", name=name, legendgroup=name, showlegend=col == 1,
                line={"color": colour}, marker={"size": 8},
                customdata=np.stack([[show_value(v) for v in shown[x]], shown["std"].map(lambda v: f"{v:.4f}"
                                     if np.isfinite(v) else "unknown (one seed)"), shown["n"]], 1) if len(shown) else None,
                hovertemplate=f"{x} %{{customdata[0]}}<br>mean %{{y:.4f}} ± %{{customdata[1]}}<br>"
                              f"%{{customdata[2]}} seeds<extra>{name}</extra>"), row=1, col=col)
            dots_x, dots_y, dots_text = [], [], []
            for _, row in shown.iterrows():  # each seed just right of its mean, so the bar does not hide it
                dots_x += [position[row[x]] + dodge + 0.035] * len(row["values"])
                dots_y += list(row["values"])
                dots_text += [f"{x} {show_value(row[x])}, seed {s}" for s in row["seeds"]]
            fig.add_trace(go.Scatter(x=dots_x, y=dots_y, mode="markers", name="each seed", legendgroup="seeds",
                                     showlegend=col == 1 and g == 0, text=dots_text,
                                     marker={"size": 5, "color": colour, "opacity": 0.45},
                                     hovertemplate="%{text}<br>%{y:.4f}<extra>one seed</extra>"), row=1, col=col)
        fig.update_xaxes(tickmode="array", tickvals=list(range(len(ticks))), ticktext=ticks,
                         range=[-0.5, len(ticks) - 0.5], title_text=x.replace("_", " "), row=1, col=col)
    fig.update_layout(title=title or "Each metric against the swept value: mean ± std over seeds",
                      height=420, margin={"t": 90}, legend={"orientation": "h", "y": -0.2})
    return fig
