"""The newcomer's documents hold: CITATION.cff matches the package, the README's options
tables are those of the code (the schema's table byte for byte, the commands' own options
flag for flag), `predict`'s documented columns are the ones it writes, every relative link
in README.md and docs/*.md resolves, and the README's benchmark figures come from
benchmarks/results/."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import typer.main
import yaml

import insightome
from insightome.options import RunOptions, Variant, declared, option
from insightome.options.table import END, START, main, markdown, option_rows, replace_block

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
COMMAND_START, COMMAND_END = "<!-- command-options:start -->", "<!-- command-options:end -->"


def _pyproject() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)["project"]


def _between(text: str, start: str, end: str) -> str:
    assert text.count(start) == 1 and text.count(end) == 1, f"expected one {start} … {end}"
    return text[text.index(start) + len(start) : text.index(end)]


# -- CITATION.cff ------------------------------------------------------------------------


def test_citation_cff_is_cff_1_2_0_and_names_this_version_and_licence():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title", "abstract"):  # message, title: required by CFF 1.2.0
        assert isinstance(cff[key], str) and cff[key].strip(), key
    assert cff["type"] == "software"
    project = _pyproject()
    assert cff["version"] == project["version"] == insightome.__version__
    assert cff["license"] == project["license"]
    # every author is a person (family-names) or an entity (name), as the CFF schema requires
    assert cff["authors"] and all("name" in a or "family-names" in a for a in cff["authors"])
    assert cff["authors"] == [{"name": "The insightome developers"}]
    # a version string that YAML would read as a number (0.1 → 0.1 float) is not CFF
    assert isinstance(cff["version"], str)


# -- the pip route -----------------------------------------------------------------------


def test_readme_install_names_exactly_the_extras_of_pyproject():
    """Every extra the README installs exists, and every extra has a row in its table."""
    text = README.read_text(encoding="utf-8")
    install = text[text.index("## Install") : text.index("## What `insightome run` does")]
    named = {e for group in re.findall(r"\.\[([a-z0-9,-]+)\]", install) for e in group.split(",")}
    table_rows = set(re.findall(r"^\| `\.\[([a-z0-9-]+)\]` \|", install, re.MULTILINE))
    extras = set(_pyproject()["optional-dependencies"])
    assert named <= extras, f"README installs extras pyproject lacks: {named - extras}"
    assert table_rows == extras
    assert "pip install" in install and "make demo" in install


# -- the options table -------------------------------------------------------------------


def test_readme_options_table_is_the_one_rendered_from_the_schema():
    """A new option in RunOptions must reach the README: regenerate with
    ``python -m insightome.options.table --update README.md``."""
    text = README.read_text(encoding="utf-8")
    assert _between(text, START, END).strip() == markdown(), (
        "README's options table is out of date: run "
        "python -m insightome.options.table --update README.md"
    )
    assert main(["--check", str(README)]) == 0


def test_options_table_has_a_row_for_every_option_of_the_schema():
    rows = {row.keyword: row for row in option_rows()}
    assert list(rows) == list(declared(RunOptions))
    assert rows["audit_thresholds"].flag == "`--audit-threshold`"
    assert rows["audit_thresholds"].commands == ("run", "audit")
    assert rows["use_sensitive"].flag == "`--use-sensitive` / `--no-use-sensitive`"
    assert rows["use_sensitive"].default == "off"
    assert rows["time_col"].flag == "`--time`"
    assert rows["n_bootstrap"].default == "`1000`"
    assert rows["seed"].meaning.endswith("Also the environment variable `INSIGHTOME_SEED`.")
    assert rows["slurm"].flag == "" and "Python API only." in rows["slurm"].meaning
    table = markdown()
    for flag in ("`--audit-threshold`", "`--use-sensitive`", "`--min-cell`", "`--decimal`"):
        assert flag in table


@dataclass(frozen=True)
class _Toy:
    """A test-only options class: each way a declaration shows in the table."""

    depth: int | None = option(None, "Deepest tree | any depth.", commands=("run", "audit"))
    verbose: bool = option(True, "Say more.", envvar="TOY_VERBOSE")
    level: float = option(
        0.9,
        "Coverage.",
        commands=("run", "validate", "monitor", "predict"),
        variants={
            c: Variant(help="Coverage (default: the run's own).", default=None)
            for c in ("validate", "monitor")
        },
    )
    tags: tuple[str, ...] = option((), "Tags.", flags=("--tag",), commands=("audit",))
    hook: object = option(None, "A callback.", flags=None)


def test_table_rows_show_flags_defaults_variants_and_escape_pipes():
    rendered = markdown(_Toy).splitlines()
    assert rendered[:2] == [
        "| option | Python keyword | default | commands | meaning |",
        "|---|---|---|---|---|",
    ]
    assert rendered[2:] == [
        "| `--depth` | `depth` | — | run, audit | Deepest tree \\| any depth. |",
        "| `--verbose` / `--no-verbose` | `verbose` | on | run | Say more. "
        "Also the environment variable `TOY_VERBOSE`. |",
        "| `--level` | `level` | `0.9` | run, validate, monitor, predict | Coverage. "
        "On `validate`, `monitor`: Coverage (default: the run's own). |",
        "| `--tag` | `tags` | — | audit | Tags. |",
        "| — | `hook` | — | run | A callback. Python API only. |",
    ]


def test_update_and_check_rewrite_only_the_marked_block(tmp_path):
    doc = tmp_path / "DOC.md"
    doc.write_text(f"# Title\n\n{START}\n| stale |\n{END}\n\nAfter.\n", encoding="utf-8")
    assert main(["--check", str(doc)]) == 1
    assert main(["--update", str(doc)]) == 0
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# Title\n\n") and text.endswith(f"{END}\n\nAfter.\n")
    assert _between(text, START, END).strip() == markdown()
    assert main(["--check", str(doc)]) == 0
    with pytest.raises(ValueError, match="expected one"):
        replace_block("no markers here", markdown())
    (tmp_path / "BAD.md").write_text(f"{END}\n{START}\n", encoding="utf-8")
    assert main(["--check", str(tmp_path / "BAD.md")]) == 2


# -- the commands' own options -----------------------------------------------------------


def _own_options() -> dict[str, set[str]]:
    """Command → the long flags of its options that are not schema options of that
    command (declared by the command itself), read from the real Typer app."""
    from insightome.cli.app import app

    schema: dict[str, set[str]] = {}
    for name, (field, declaration) in declared(RunOptions).items():
        if declaration.flags is None:
            continue
        for flag in declaration.cli_flags(name, isinstance(field.default, bool)):
            for command in declaration.commands:
                schema.setdefault(command, set()).update(flag.split("/"))
    own: dict[str, set[str]] = {}
    for command_name, command in typer.main.get_command(app).commands.items():
        if hasattr(command, "commands") or command_name in ("optimize", "samplesize", "serve"):
            continue  # admet, optimize, samplesize, serve, trials: docs/admet.md, web.md, …
        for param in command.params:
            if getattr(param, "param_type_name", "") != "option":
                continue
            flags = [o for o in (*param.opts, *param.secondary_opts) if o.startswith("--")]
            if not set(flags) & schema.get(command_name, set()):
                own.setdefault(command_name, set()).update(flags)
    return own


def _readme_command_options() -> dict[str, set[str]]:
    block = _between(README.read_text(encoding="utf-8"), COMMAND_START, COMMAND_END)
    listed: dict[str, set[str]] = {}
    for line in block.strip().splitlines()[2:]:
        command, flags = line.split("|")[1:3]
        listed.setdefault(command.strip(" `"), set()).update(
            re.findall(r"--[a-z][a-z0-9-]*", flags)
        )
    return listed


def test_readme_lists_exactly_the_options_commands_declare_themselves():
    """Every option a command declares by itself (run --resume, validate --out, …) has a
    row in README's second table, and no row names an option the command lacks."""
    own = _own_options()
    assert {"--resume", "--from-stage", "--slurm-config"} <= own["run"]
    assert "--target" not in own["run"] and "--out" in own["validate"]
    listed = _readme_command_options()
    missing = {
        c: sorted(f - listed.get(c, set())) for c, f in own.items() if f - listed.get(c, set())
    }
    extra = {c: sorted(f - own.get(c, set())) for c, f in listed.items() if f - own.get(c, set())}
    assert not missing, f"options missing from README's second table: {missing}"
    assert not extra, f"README lists options these commands lack: {extra}"


def test_admet_optimize_samplesize_serve_and_trials_options_are_in_their_guides():
    from insightome.cli.app import app

    commands = typer.main.get_command(app).commands
    guides = {("admet", name): ROOT / "docs" / "admet.md" for name in commands["admet"].commands}
    guides[("optimize",)] = ROOT / "docs" / "optimize.md"
    guides[("samplesize",)] = ROOT / "docs" / "samplesize.md"
    guides[("serve",)] = ROOT / "docs" / "web.md"
    guides.update({("trials", n): ROOT / "docs" / "trials.md" for n in commands["trials"].commands})
    for path, guide in guides.items():
        command = commands[path[0]] if len(path) == 1 else commands[path[0]].commands[path[1]]
        text = guide.read_text(encoding="utf-8")
        for param in command.params:
            long_flags = [o for o in param.opts if o.startswith("--")]
            if getattr(param, "param_type_name", "") == "option" and long_flags:
                assert long_flags[0] in text, f"{' '.join(path)} {long_flags[0]} not in {guide}"


# -- predict's output columns ------------------------------------------------------------

PREDICT_COLUMNS = {  # README pattern → a regular expression for the real column
    "sample_id": r"sample_id",
    "prob_<class>": r"prob_.+",
    "predicted_class": r"predicted_class",
    "prediction_set_<level>": r"prediction_set_\d+",
    "pred": r"pred",
    "interval_<level>_low": r"interval_\d+_low",
    "interval_<level>_high": r"interval_\d+_high",
    "risk": r"risk",
}


def _readme_predict_columns() -> set[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### What `predict` writes") :]
    table = section[section.index("| column | task | meaning |") :].split("\n\n")[0]
    names: set[str] = set()
    for line in table.splitlines()[2:]:
        names.update(re.findall(r"`([^`]+)`", line.split("|")[1]))
    return names


def _adata(X: pd.DataFrame, obs: pd.DataFrame) -> ad.AnnData:
    index = [f"s{i}" for i in range(len(X))]
    return ad.AnnData(X.to_numpy(float), obs=obs.set_axis(index), var=pd.DataFrame(index=X.columns))


@pytest.mark.slow
def test_predict_writes_the_columns_the_readme_documents(tmp_path):
    """A binary, a regression and a survival run, each predicted from a CSV file: every
    column is one the README's table names, and every name there is written."""
    from lifelines.datasets import load_rossi
    from sklearn.datasets import load_breast_cancer, load_diabetes

    assert _readme_predict_columns() == set(PREDICT_COLUMNS)
    fast = {"preset": "fast", "folds": 3, "repeats": 1, "n_bootstrap": 200, "discover": False}
    cancer = load_breast_cancer(as_frame=True).frame.iloc[:120, [0, 1, 2, 3, -1]]
    diabetes = load_diabetes(as_frame=True).frame.iloc[:120]
    rossi = load_rossi().iloc[:150, [0, 1, 2, 3, 4, 5]]
    cases = {
        "binary": (cancer, {"target": "target"}),
        "regression": (diabetes, {"target": "target"}),
        "survival": (rossi, {"time_col": "week", "event": "arrest"}),
    }
    written: set[str] = set()
    for task, (frame, outcome) in cases.items():
        outcome_columns = [outcome.get("target"), outcome.get("time_col"), outcome.get("event")]
        features = frame.drop(columns=[c for c in outcome_columns if c])
        run = insightome.run(
            _adata(features, frame[[c for c in outcome_columns if c]]),
            **outcome, **fast, out_dir=tmp_path / task,
        )  # fmt: skip
        new = tmp_path / f"{task}_new.csv"
        features.iloc[:10].set_axis([f"n{i}" for i in range(10)]).to_csv(new, index_label="id")
        table = insightome.predict(run.path, new, id_column="id", log=False)
        columns = [table.index.name, *table.columns]
        for column in columns:
            matched = [p for p, rx in PREDICT_COLUMNS.items() if re.fullmatch(rx, column)]
            assert matched, f"{task}: predict wrote {column!r}, which README does not describe"
            written.update(matched)
        assert list(table.index) == [f"n{i}" for i in range(10)]
        assert np.isfinite(table.select_dtypes("number").to_numpy()).all()
    assert written == set(PREDICT_COLUMNS)


# -- links -------------------------------------------------------------------------------

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.MULTILINE)


def _without_fences(text: str) -> str:
    return re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.MULTILINE | re.DOTALL)


def _prose(text: str) -> str:
    """Markdown without code blocks and inline code (links there are not links)."""
    return re.sub(r"`[^`]*`", "", _without_fences(text))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces → hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())
    text = re.sub(r"[`*]", "", text).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _without_fences(path.read_text("utf-8"))
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.MULTILINE)
    seen: dict[str, int] = {}
    anchors = set()
    for heading in headings:
        slug = _slug(heading)
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """The relative links of a Markdown file that do not resolve to a file (or a heading
    of a Markdown file) inside ``root``."""
    text = _prose(path.read_text(encoding="utf-8"))
    broken = []
    for target in [*LINK.findall(text), *REFERENCE.findall(text)]:
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto:, …
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        inside = resolved == root or root in resolved.parents
        if not inside or not resolved.exists():
            broken.append(f"{path.name}: {target} (no such file in the repository)")
        elif anchor and resolved.suffix == ".md" and anchor.lower() not in _anchors(resolved):
            broken.append(f"{path.name}: {target} (no heading #{anchor})")
    return broken


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_every_relative_link_resolves(path):
    assert broken_links(path) == []


def test_the_link_check_finds_a_broken_link_and_a_wrong_anchor(tmp_path):
    (tmp_path / "other.md").write_text("# A heading, with `code`\n\n## Again\n", "utf-8")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "[ok](other.md) [ok](other.md#a-heading-with-code) [gone](missing.md) "
        "[bad](other.md#nowhere) [out](../outside.md) [web](https://example.org/x.md)\n"
        "`[code](missing.md)` and [ref]\n\n[ref]: also-missing.md\n",
        "utf-8",
    )
    (tmp_path.parent / "outside.md").write_text("# x\n", "utf-8")
    assert broken_links(doc, root=tmp_path) == [
        "doc.md: missing.md (no such file in the repository)",
        "doc.md: other.md#nowhere (no heading #nowhere)",
        "doc.md: ../outside.md (no such file in the repository)",
        "doc.md: also-missing.md (no such file in the repository)",
    ]


# -- numbers -----------------------------------------------------------------------------

BENCHMARK_SECTIONS = ("## How honest is the estimate?", "## Do the discoveries and the audit")


def test_readme_benchmark_figures_come_from_benchmarks_results():
    """Every decimal figure in the README's benchmark sections appears in a file of
    benchmarks/results/ (a loose check: a figure typed from memory rarely does)."""
    text = README.read_text(encoding="utf-8")
    sections = []
    for heading in BENCHMARK_SECTIONS:
        start = text.index(heading)
        sections.append(text[start : text.index("\n## ", start + 1)])
    admet = text[text.index("How it does ([benchmarks/results/admet.md]") :]
    sections.append(admet[: admet.index("\n## ")])
    results = "\n".join(
        p.read_text(encoding="utf-8")
        for p in (ROOT / "benchmarks" / "results").iterdir()
        if p.suffix in (".md", ".json")
    )
    figures = {f for s in sections for f in re.findall(r"(?<![\w.])\d[\d,]*\.\d+", s)}
    assert len(figures) > 30  # the sections were found
    assert sorted(f for f in figures if f not in results) == []
