"""The "Inspect a run" page, one module per panel:

- ``picker``: the sidebar's run picker and run table, and the run's header (state, accuracies,
  Resume for a run that stopped early);
- ``map``: the embedding map's controls, the map itself (selection, filter, search), and the
  replay of every epoch; ``overlays``: the lines and marks a selection draws over it;
  ``clusters``: a magnet run's clusters on it;
- ``selection``: the selected points' images, and one point looked at closer;
- ``tabs``: the analysis tabs, each drawn only when open: ``verification`` (distances, ROC, per
  class), ``hardpairs``, ``suspicious``, ``shifts`` and ``export`` have a module each; the small
  ones (confusion, report, centroids, metrics, most confused) live in ``tabs``.

Panels share widgets through ui.widgets and cached runs and analyses through ui.cached and
ui.cached_analyses; none imports another page.
"""

from ui.inspect.page import render

__all__ = ["render"]
