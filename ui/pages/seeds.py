"""Page script: Seed experiments (see ui.seeds)."""
from ui.seeds import render

render()
