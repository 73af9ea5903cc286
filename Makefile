# One command per task. Every target creates .venv and installs what it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch is installed first and pinned: an unpinned torch would pull a multi-GB CUDA build.
TORCH := torch==2.13.0

.PHONY: run test lint bench install install-test demo clean chromium screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Index this repository's documentation into the "demo" workspace, make it the default one (what the
# search page shows), then serve the API and search page on http://127.0.0.1:8000 (LIGHTFAST_HOME
# defaults to ~/.lightfast).
run: install
	$(BIN)/lightfast ingest . --workspace demo
	$(BIN)/lightfast workspaces default demo
	$(BIN)/lightfast serve

# The console's browser tests drive Debian's chromium; Playwright's own download is not used.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi; }

test: install-test chromium
	$(BIN)/python -m pytest -n 2 --dist loadgroup

# Every console page over a workspace with history, screenshotted into docs/screenshots/ (the README's images).
screenshots: install-test chromium
	LIGHTFAST_SCREENSHOTS_DIR=docs/screenshots $(BIN)/python -m pytest -q tests/browser/test_every_page.py

lint: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install-test
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/beir.py --data ../shared/data/scifact --split train
	$(BIN)/python bench/ingest.py bench/results/.work/scifact-corpus

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
