"""Stop-gaps for figures explorer/ does not offer yet. Each steps aside (hasattr check) as soon as
explorer.figures has the real one; ask for it there rather than growing this file.

- ``histograms_figure``: pair-distance densities of several runs overlaid in one figure (runs in
  colours; positive pairs solid, negative pairs dashed), optionally with each run's distances
  divided by its mean different-class distance, so runs on other scales (contrastive vs triplet)
  can share an axis. Wanted as explorer.figures.histograms_figure(histograms, scales=None).
"""

from __future__ import annotations


def histograms_figure(histograms: dict, title: str = "Pair distances", scales: dict | None = None):
    """``histograms`` maps a run's name to its distances.histogram frame; ``scales`` (optional)
    maps it to the distance that becomes 1 on the x axis."""
    from explorer import figures

    if hasattr(figures, "histograms_figure"):
        return figures.histograms_figure(histograms, title=title, scales=scales)
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    fig = go.Figure()
    for i, (name, hist) in enumerate(histograms.items()):
        colour = qualitative.Plotly[i % len(qualitative.Plotly)]
        scale = float((scales or {}).get(name) or 1.0)
        centres = (hist["left"] + hist["right"]) / 2 / scale
        for column, dash, label in (("positive", "solid", "same class"), ("negative", "dash", "different class")):
            fig.add_trace(go.Scatter(x=centres, y=hist[column] * scale, mode="lines",
                                     line={"color": colour, "dash": dash, "shape": "hvh"},
                                     name=f"{name}: {label}", legendgroup=name))
    fig.update_layout(title=title, template="plotly_white", yaxis_title="density",
                      xaxis_title="distance / the run's mean different-class distance" if scales
                      else "embedding distance")
    return fig
