# The README's two commands: `make app` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: app test demo chromium clean frontend

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@echo "Compiling UMAP once (numba caches it on disk, so no map waits for the compiler later)"
	$(PY) -c "from explorer.projections import warm_up; warm_up()"
	touch $(STAMP)

# Start the Streamlit app on 127.0.0.1; runs live in $$EXPLORER_RUNS_DIR (default ./runs).
app: $(STAMP)
	$(VENV)/bin/streamlit run app.py --server.address 127.0.0.1 --server.headless true

# A demo run from the command line: MNIST 4 vs 9 from the bundled sample, a few epochs on CPU.
demo: $(STAMP)
	$(PY) -m training train --dataset mnist --classes 4 9 --regime random --epochs 3 --device cpu

# Debian's chromium for the browser tests (never `playwright install`).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Rebuild the map element's bundle (static/map-element.js) from ui/map_element/frontend, with the
# exact versions of its lockfile. The bundle is committed: `make app` and `make test` need no node.
FRONTEND := ui/map_element/frontend
frontend:
	cd $(FRONTEND) && npm ci --no-audit --no-fund && node build.mjs

test: $(STAMP) chromium
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
