"""Page script: Compare runs (see ui.compare)."""
from ui.compare import render

render()
