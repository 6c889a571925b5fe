# The README's two commands: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The extras installed; CI adds `ci` (PyTorch, the reference of the model-import tests).
EXTRAS ?= test,dev

.PHONY: run test lint typecheck bench screenshot clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "pathgrad needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/pathgrad serve

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS) || { status=$$?; [ $$status -eq 5 ] && echo 'pytest: no tests collected'; [ $$status -eq 5 ] || exit $$status; }

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m benchmarks

# The README's picture of the explorer, from its browser test (needs Chromium).
screenshot: $(STAMP)
	PATHGRAD_SCREENSHOTS=docs $(BIN)/pytest tests/test_explorer_browser.py -q -p no:cacheprovider -k seed_question

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
