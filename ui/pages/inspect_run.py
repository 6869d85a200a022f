"""Page script: Inspect a run (see ui.inspect_run)."""
from ui.inspect_run import render

render()
