"""The JSON Schema of results.json, generated from :class:`RunResults` and shipped beside
this module as ``results.schema.json`` (package data).

Regenerate it after changing a results type::

    python -m insightome.results.schema            # rewrites the shipped file
    python -m insightome.results.schema --check    # exit 1 when the shipped file is stale

``tests/test_results_types.py`` fails when the shipped file differs from a fresh one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from insightome.results.run import RESULTS_SCHEMA, RunResults

SCHEMA_FILE = Path(__file__).with_name("results.schema.json")
SCHEMA_ID = "https://insightome.org/schemas/results/1.json"


def results_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of results.json."""
    schema = RunResults.model_json_schema(by_alias=True, mode="validation")
    _drop_null_defaults(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "description": f"results.json of an insightome run ({RESULTS_SCHEMA}); "
        "see docs/results-schema.md",
        **schema,
    }


def _drop_null_defaults(node: Any) -> None:
    """Remove ``"default": null``: an optional key of ours is absent, not null."""
    if isinstance(node, dict):
        if node.get("default", 0) is None:
            del node["default"]
        for value in node.values():
            _drop_null_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _drop_null_defaults(value)


def schema_text() -> str:
    """The shipped file's exact text."""
    return json.dumps(results_json_schema(), indent=2, ensure_ascii=False) + "\n"


def shipped_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    fresh = schema_text()
    if "--check" in args:
        stale = not SCHEMA_FILE.is_file() or SCHEMA_FILE.read_text(encoding="utf-8") != fresh
        if stale:
            print(f"{SCHEMA_FILE} is stale: run python -m insightome.results.schema")
        return int(stale)
    SCHEMA_FILE.write_text(fresh, encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
