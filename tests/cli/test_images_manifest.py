"""``insightome images manifest``: a MedMNIST .npz → a manifest whose image refs resolve
from the manifest's own folder; every bad input one line, exit code 2, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from insightome.io.images import read_image
from tests.cli.test_bad_input import assert_user_error
from tests.conftest import shared_data

ROOT = Path(__file__).resolve().parents[2]


def test_breastmnist_manifest_refs_resolve_from_the_output_folder(cli, tmp_path):
    npz = shared_data("medmnist", "breastmnist.npz")
    out = tmp_path / "runs" / "breast.csv"
    result = cli("images", "manifest", npz, "-o", out)
    assert result.code == 0, result.err
    assert "780 images from breastmnist.npz (train 546, val 78, test 156)" in result.out
    assert str(out.resolve()) in result.out
    manifest = pd.read_csv(out)
    assert list(manifest.columns) == ["id", "image", "label", "split"]
    assert manifest["split"].value_counts().to_dict() == {"train": 546, "val": 78, "test": 156}
    assert not Path(manifest["image"][0].split("#")[0]).is_absolute()
    with np.load(npz) as data:
        for row in (0, 545, 546, 779):
            image = read_image(manifest["image"][row], out.parent, row=str(row + 2))
            split, index = manifest["split"][row], int(manifest["image"][row].rsplit("/", 1)[1])
            np.testing.assert_array_equal(image.array, data[f"{split}_images"][index])
    assert [p.name for p in out.parent.iterdir()] == ["breast.csv"]  # no temporary file left


def test_splits_option_and_tsv(cli, tmp_path):
    npz = tmp_path / "tiny.npz"
    np.savez(
        npz,
        train_images=np.zeros((3, 4, 4), np.uint8),
        train_labels=np.array([[0], [1], [1]]),
        test_images=np.ones((2, 4, 4), np.uint8),
        test_labels=np.array([[1], [0]]),
    )
    out = tmp_path / "tiny.tsv"
    result = cli("images", "manifest", npz, "-o", out, "--splits", "test,train")
    assert result.code == 0, result.err
    manifest = pd.read_csv(out, sep="\t")
    assert manifest["id"].tolist() == [
        "test-0000", "test-0001", "train-0000", "train-0001", "train-0002",
    ]  # fmt: skip
    assert manifest["image"][0] == "tiny.npz#test_images/0"
    assert "label: 0 (2), 1 (3)" in result.out


def test_bad_npz_is_one_line_exit_2_and_nothing_written(cli, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"this is not a zip archive")
    out = tmp_path / "m.csv"
    result = cli("images", "manifest", bad, "-o", out)
    assert_user_error(result, f"{bad}: cannot be read as a NumPy .npz file", "bad.npz")
    assert not out.exists()

    npz = shared_data("medmnist", "breastmnist.npz")
    result = cli("images", "manifest", npz, "-o", out, "--splits", "train,tset")
    assert_user_error(result, "no array 'tset_images'", "breastmnist.npz", "--splits")
    assert not out.exists()
    result = cli("images", "manifest", tmp_path / "gone.npz", "-o", out)
    assert_user_error(result, "gone.npz: file not found")
    result = cli("images", "manifest", npz, "-o", tmp_path / "m.xlsx")
    assert_user_error(result, "m.xlsx: cannot write a manifest as '.xlsx'")
    result = cli("images", "manifest", npz, "-o", out, "--splits", "train,train")
    assert_user_error(result, "--splits: give distinct split names")
    assert not out.exists()


def test_bad_npz_through_the_installed_entry_point(tmp_path):
    """The real process: one line on stderr, exit code 2, no traceback."""
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-m", "insightome.cli.app", "images", "manifest", str(bad), "-o",
         str(tmp_path / "m.csv")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad}: cannot be read as a NumPy")
    assert "Traceback" not in done.stderr


def test_images_help_lists_manifest(cli):
    result = cli("images", "--help")
    assert result.code == 0 and "manifest" in result.out


def test_cli_import_does_not_load_image_readers():
    code = (
        "import sys, insightome.cli.app\n"
        "loaded = sorted(m for m in ('pydicom', 'nibabel', 'tifffile', 'PIL', 'torch', "
        "'insightome.io.images') if m in sys.modules)\n"
        "assert loaded == [], loaded\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)
