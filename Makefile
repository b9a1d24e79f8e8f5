# Two commands do all the set-up on a fresh machine:
#   make run    create the virtual environment, install, migrate, serve on http://127.0.0.1:5000
#   make test   create the virtual environment, install what the tests need, lint, test
# With CI=true the PostgreSQL tests are required instead of skipped when no server answers.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.kedja-installed
NODE_STAMP := node_modules/.kedja-installed
HOST   ?= 127.0.0.1
PORT   ?= 5000
# The suite runs on every core (pytest-xdist): on two cores 8.5 instead of 13.5 minutes.
# Each worker makes its own databases; `make test PYTEST_ARGS=` runs it in one process.
PYTEST_ARGS ?= -n auto

.PHONY: run test lint bench clean setup chromium

setup: $(STAMP) $(NODE_STAMP)

# The browser tests drive Debian's Chromium through Playwright (Playwright's own browser
# download does not work on the project's machines). Installed when missing and possible.
CHROMIUM := /usr/bin/chromium
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's chromium for the browser tests"; \
	    apt-get install -y -q chromium >/dev/null || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null); \
	  else \
	    echo "NOTE: $(CHROMIUM) is missing; browser tests are skipped (required with CI=true). Install with: sudo apt-get install chromium"; \
	  fi; \
	fi

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# npm dependencies (bpmn-js and friends) are installed, never committed. Until the project
# has a package.json there is nothing to install.
$(NODE_STAMP): $(wildcard package.json package-lock.json)
	if [ -f package.json ]; then \
	  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi; \
	  mkdir -p node_modules && touch $(NODE_STAMP); \
	fi

run: setup
	$(BIN)/kedja db upgrade
	$(BIN)/kedja serve --host $(HOST) --port $(PORT) --demo

lint: $(STAMP)
	$(BIN)/ruff check engine processes webui tests bench
	$(BIN)/ruff format --check engine processes webui tests bench

test: setup lint chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/engine_overhead.py
	$(BIN)/python bench/history_growth.py
	$(BIN)/python bench/timer_precision.py
	$(BIN)/python bench/tasklist.py

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .ruff_cache
