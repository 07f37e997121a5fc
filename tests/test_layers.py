"""The layers are a contract (issue 16): declared in pyproject.toml, checked here.

* the import-linter contracts hold (layers; the engine never imports an application or the
  CLI; nothing but the CLI imports the CLI), and every top-level module is in a layer;
* no module imports itself back through others (no cycle, function-local imports included);
* outside ``cli/`` no function imports insightome: a local import to dodge a cycle fails here
  (``ALLOWED_LOCAL_IMPORTS`` would name it, with its reason);
* the engine and the CLI import without the optional heavy dependencies, which are
  imported inside the functions that need them.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "insightome"

#: (importing module, imported module) → why the import is inside a function. Empty: every
#: import of insightome outside cli/ is at module level (cli/ imports domain code inside
#: its commands, so ``insightome --help`` stays fast).
ALLOWED_LOCAL_IMPORTS: dict[tuple[str, str], str] = {}

#: Imported inside the functions that use them (extras or heavy optional backends).
OPTIONAL_HEAVY = (
    "rdkit", "datamol", "torch", "dask", "distributed", "dask_jobqueue", "gseapy", "spacy",
    "onnxruntime", "onnx", "bm25s", "Stemmer", "pennylane", "pocketsphinx",
)  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(ROOT)])}


def _module_name(path: Path, src: Path) -> str:
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The insightome modules an import statement names (relative imports resolved)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "insightome"]
    if node.level:
        base = module.split(".")
        base = base if is_package else base[:-1]
        base = base[: len(base) - (node.level - 1)]
        return [".".join([*base, *([node.module] if node.module else [])])]
    return [node.module] if node.module and node.module.split(".")[0] == "insightome" else []


def local_imports(path: Path, src: Path = SRC) -> list[tuple[str, str, int]]:
    """(module, imported module, line) for each insightome import inside a function body."""
    module = _module_name(path, src)
    found: list[tuple[str, str, int]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue  # annotations only: never executed
            if in_function and isinstance(child, ast.Import | ast.ImportFrom):
                for name in _imported(child, module, path.name == "__init__.py"):
                    found.append((module, name, child.lineno))
            nested = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            visit(child, in_function or nested)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def test_import_contracts_hold() -> None:
    lint = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    done = subprocess.run(
        [lint, "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_every_top_level_module_is_in_a_layer() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (layers,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    named = {
        m.strip()
        for layer in layers["layers"]
        for part in layer.split("|")
        for m in part.split(":")
    }
    modules = {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }
    assert modules - named == set(), "add these modules to a layer in pyproject.toml"
    assert named - modules == set(), "these layers name modules that do not exist"


def test_no_import_cycles() -> None:
    graph = grimp.build_graph("insightome", cache_dir=None, exclude_type_checking_imports=True)
    assert graph.find_modules_directly_imported_by("insightome.stages.runner")  # graph built
    cycles = [
        chain
        for module in sorted(graph.modules)
        for imported in graph.find_modules_directly_imported_by(module)
        if (chain := graph.find_shortest_chain(importer=imported, imported=module))
    ]
    assert cycles == [], "import cycles (each chain leads back to its first module's importer)"


def test_no_function_local_imports_of_insightome_outside_cli() -> None:
    found = {
        (module, imported): line
        for path in sorted(PACKAGE.rglob("*.py"))
        if "cli" not in path.relative_to(PACKAGE).parts
        for module, imported, line in local_imports(path)
    }
    unexplained = {k: v for k, v in found.items() if k not in ALLOWED_LOCAL_IMPORTS}
    assert unexplained == {}, "import these at module level (a cycle means a misplaced function)"
    stale = set(ALLOWED_LOCAL_IMPORTS) - set(found)
    assert stale == set(), "remove these entries from ALLOWED_LOCAL_IMPORTS"


def test_local_import_finder_sees_nested_and_relative_imports(tmp_path: Path) -> None:
    package = tmp_path / "src" / "insightome" / "x"
    package.mkdir(parents=True)
    path = package / "m.py"
    path.write_text(
        "from typing import TYPE_CHECKING\n"
        "from insightome import errors\n"
        "if TYPE_CHECKING:\n    from insightome.study import Study\n"
        "def f():\n    if True:\n        from insightome.io import read\n"
        "    def g():\n        from . import sibling\n"
        "class C:\n    def h(self):\n        import insightome.run_directory\n"
        "        if TYPE_CHECKING:\n            from insightome.workflow import run\n"
    )
    assert local_imports(path, tmp_path / "src") == [
        ("insightome.x.m", "insightome.io", 7),
        ("insightome.x.m", "insightome.x", 9),
        ("insightome.x.m", "insightome.run_directory", 12),
    ]


def test_root_package_imports_nothing_at_import_time() -> None:
    code = (
        "import sys, insightome\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('insightome.'))\n"
        "assert loaded == [], loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=_env(), timeout=60)


def test_engine_and_cli_import_without_optional_heavy_dependencies() -> None:
    """Every module but the applications (ADMET needs the chem extra) imports with the
    optional heavy dependencies made unimportable."""
    code = f"""
import importlib, pkgutil, sys

for name in {OPTIONAL_HEAVY!r}:
    if name != "torch":  # SciPy reads sys.modules["torch"] when present: only checked below
        sys.modules[name] = None  # as if not installed: import fails, find_spec gives None
import insightome

names = [m.name for m in pkgutil.walk_packages(insightome.__path__, "insightome.")
         if not m.name.startswith("insightome.apps")]
assert "insightome.cli.app" in names and "insightome.featurize.molecules" in names
for name in names:
    importlib.import_module(name)
heavy = sorted(m for m, v in sys.modules.items()
               if v is not None and m.split(".")[0] in {OPTIONAL_HEAVY!r})
assert heavy == [], heavy
"""
    done = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
