"""A magnet run's clusters on the map: each point's cluster for the colour by cluster, and the
clusters' centres drawn as diamonds."""

from __future__ import annotations

import pandas as pd

from ui import cached_analyses


def with_clusters(run, frame: pd.DataFrame, epoch: int) -> pd.DataFrame:
    from explorer import magnet

    found = cached_analyses.magnet_clusters(run.path, epoch)
    if found is None:
        raise ValueError(f"epoch {epoch}'s snapshot holds no magnet clusters: colour by class instead")
    return magnet.with_clusters(frame, run.points(epoch), found["centre_classes"], len(run.class_names))


def add_centres(fig, run, frame: pd.DataFrame, choice, where: dict) -> None:
    """The magnet clusters' centres, as diamonds in their cluster's colour, on every panel."""
    from explorer import magnet

    if choice.colour != "cluster":
        return
    found = cached_analyses.magnet_clusters(run.path, choice.epoch)
    if found is None:
        return
    marks = magnet.centre_marks(frame, run.points(choice.epoch), found["centre_classes"], run.class_names)
    for panel in sorted(set(where.values())):
        fig.add_marks(panel, marks["x"], marks["y"], text=marks["text"], symbol="diamond", size=15,
                       color=list(marks["colour"]), width=1.5, outline="#111")
