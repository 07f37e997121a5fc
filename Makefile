# insightome — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-peers clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,chem]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/insightome demo

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 --dist loadscope -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/omics_suite.py

bench-peers: $(STAMP)
	test -x benchmarks/.venv-peers/bin/python || $(BIN)/python benchmarks/peers.py --setup
	$(BIN)/python benchmarks/peers.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info runs
