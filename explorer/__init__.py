"""Analysis and figures of metric-learning runs: open a run directory, map its embeddings to 2-D,
and measure how well they separate classes.

Modules: runs (open runs), projections (2-D maps), distances (pair distances, verification),
classifiers, geometry (centroids, cluster sizes), retrieval (pytorch-metric-learning metrics),
shifts, neighbours (identification), figures (plotly), summary, report, cli. The heavy libraries
(openTSNE, umap-learn, torch) are imported only by the functions that need them.
"""

from explorer.projections import projection
from explorer.runs import Run, RunDirError, list_runs, load_run

__all__ = ["Run", "RunDirError", "list_runs", "load_run", "projection"]
