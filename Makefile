# insightome — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-cluster lint bench bench-peers clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,chem,notes,images,trials,quantum,web,scribe]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/insightome demo

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 --dist loadscope -q -m "not cluster" --durations=30

# a real one-node SLURM cluster on loopback (apt installs slurm-wlm and munge when absent;
# needs root or sudo), the tests marked "cluster" on it, then the cluster stopped
test-cluster: $(STAMP)
	.ci/slurm-cluster start
	SLURM_CONF=$$(.ci/slurm-cluster conf) INSIGHTOME_REQUIRE_CLUSTER=1 \
		$(BIN)/python -m pytest -q -m cluster tests/cluster; \
		status=$$?; .ci/slurm-cluster stop; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/omics_suite.py

bench-peers: $(STAMP)
	test -x benchmarks/.venv-peers/bin/python || $(BIN)/python benchmarks/peers.py --setup
	$(BIN)/python benchmarks/peers.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info runs
