"""The colours and marker symbols every view of the points shares: the report's maps, the app's
map element and the displacement boxes, so a class, split or shift looks the same everywhere.
"""

from __future__ import annotations

import numpy as np
from plotly.colors import qualitative, sample_colorscale

SPLIT_COLORS = {"train": "#1f77b4", "val": "#ff7f0e", "test": "#2ca02c", "shifted": "#d62728", "heldout": "#9467bd"}
CORRECT_COLORS = {True: "#2ca02c", False: "#d62728", None: "#c7c7c7"}
CORRECT_NAMES = {True: "k-NN right", False: "k-NN wrong", None: "train (k-NN fitted here)"}


def class_colors(n: int) -> list[str]:
    """n distinct colours, one per class."""
    palette = qualitative.Plotly if n <= 10 else qualitative.Dark24 if n <= 24 else qualitative.Alphabet + qualitative.Dark24
    return [palette[i % len(palette)] for i in range(n)]


def cluster_colors(centre_classes, n_classes: int) -> list[str]:
    """One colour per cluster: its class's colour, lighter or darker for each further cluster of
    that class, so k clusters of a class read as one family."""
    from plotly.colors import hex_to_rgb

    palette = class_colors(n_classes)
    centre_classes = [int(c) for c in centre_classes]
    colours = []
    for i, c in enumerate(centre_classes):
        rank = centre_classes[:i].count(c)
        k = centre_classes.count(c)
        # from 35 % darker to 45 % lighter across the class's clusters
        t = 0.0 if k == 1 else -0.35 + 0.8 * rank / (k - 1)
        base = hex_to_rgb(palette[c % len(palette)]) if palette[c % len(palette)].startswith("#") else (127, 127, 127)
        mixed = [round(v + (255 - v) * t) if t > 0 else round(v * (1 + t)) for v in base]
        colours.append("#" + "".join(f"{v:02x}" for v in mixed))
    return colours


def shift_symbols(shifts) -> dict[int, str]:
    """Marker symbol per shift: a circle for none, triangles pointing the way of the shift,
    open for the smaller and filled for the larger magnitudes."""
    symbols = {0: "circle"}
    for sign, name in ((-1, "left"), (1, "right")):
        magnitudes = sorted({abs(int(s)) for s in shifts if np.sign(s) == sign})
        for i, m in enumerate(magnitudes):
            filled = i == len(magnitudes) - 1
            symbols[sign * m] = f"triangle-{name}" + ("" if filled else "-open")
    return symbols


def shift_palette(shifts) -> dict[int, str]:
    """One colour per shift, the same in every figure that shows shifts (the app's map, the
    displacement boxes): dark grey for none, blues for left (negative) shifts and reds for right,
    darker for larger magnitudes, so -6, -3, +3 and +6 px read apart at a glance."""
    palette = {0: "#3d3d3d"}
    for sign, scale in ((-1, "Blues"), (1, "Reds")):
        magnitudes = sorted({abs(int(s)) for s in shifts if np.sign(s) == sign})
        if not magnitudes:
            continue
        levels = np.linspace(0.5, 0.92, len(magnitudes)) if len(magnitudes) > 1 else [0.75]
        for m, color in zip(magnitudes, sample_colorscale(scale, list(levels))):
            palette[sign * m] = color
    return palette
