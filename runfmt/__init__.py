"""The run directory: the one contract between training, the explorer and the app.

A torch-free package: training writes a run through it, the explorer and the app read runs through
it, and none of them names a run file or parses one itself.

- ``layout``: the file names, the format version, states, splits, column and array names, the
  errors readers raise, where runs live, when a run last changed.
- ``files``: atomic writes (temporary file, then rename), JSON (config, status with the liveness
  check), the appended CSVs (metrics, steps), images and pairs.
- ``snapshots``: one file per snapshot epoch, written once (format 2), their extra arrays and index;
  format 1's single file read in one place.

Everything is re-exported here: ``import runfmt`` and use ``runfmt.read_status`` and the like.
"""

from runfmt.layout import *  # noqa: F401,F403
from runfmt.files import *  # noqa: F401,F403
from runfmt.snapshots import *  # noqa: F401,F403
