"""Page script: Import embeddings (see ui.import_page)."""
from ui.import_page import render

render()
