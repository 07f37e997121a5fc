#!/usr/bin/env bash
# Issue 17's walk-through: TCGA-STAD expression + sample sheet from `run` through
# `predict`, `validate` (held-out tissue-source site), `monitor`, `audit --justify`, as a
# user types it, checking the console, the documents and the report at each step
# (tests/test_walkthrough.py). Needs ../shared/data (skips without it) and `make` once.
#
#   benchmarks/walkthrough.sh [OUT]    # OUT (default: walkthrough-out) keeps the data
#                                      # splits, the run directories and transcript.txt
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-walkthrough-out}"
WALKTHROUGH_OUT="$(realpath -m "$out")" exec .venv/bin/python -m pytest \
    tests/test_walkthrough.py -q -p no:cacheprovider -rs
