"""Page script: New run (see ui.new_run)."""
from ui.new_run import render

render()
