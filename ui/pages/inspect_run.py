"""Page script: Inspect a run (see ui.inspect)."""
from ui.inspect import render

render()
