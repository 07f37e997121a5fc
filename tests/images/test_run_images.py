"""``insightome run MANIFEST --image-column image``: images as a modality in a whole run.

A small self-made image cohort: 2D PNG images whose class is a bright disc (1) or a bright
ring (0) of random size and place over noise, with a clinical column and a sensitive one,
and a DICOM cohort whose scanner manufacturer serves as ``--site``. The run must turn the
images into radiomics columns next to the clinical ones, estimate as usual, audit by the
sensitive column, publish counts and settings (never pixels unless --show-images), and
refuse bad manifests in one line naming the file.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image as PILImage

import insightome
from insightome.errors import UserError
from insightome.results import validate_results
from tests.cli.conftest import FAST, run_dirs

API_FAST = {"preset": "fast", "folds": 3, "repeats": 1, "n_bootstrap": 200, "seed": 0}


def _picture(label: int, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    cy, cx = rng.uniform(size * 0.35, size * 0.65, 2)
    r = rng.uniform(size * 0.18, size * 0.3)
    d = np.hypot(yy - cy, xx - cx)
    shape = d < r if label else (d < r) & (d > r * 0.6)
    image = 40 + 150 * shape + rng.normal(0, 12, (size, size))
    return np.clip(image, 0, 255).astype(np.uint8)


def png_cohort(folder, n: int = 60, seed: int = 0, size: int = 32) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    (folder / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        label = i % 2
        name = f"img/s{i:03d}.png"
        PILImage.fromarray(_picture(label, rng, size)).save(folder / name)
        rows.append(
            {
                "id": f"S{i:03d}",
                "image": name,
                "age": float(rng.normal(60, 8)),
                "sex": "F" if rng.random() < 0.5 else "M",
                "label": label,
            }
        )
    table = pd.DataFrame(rows)
    table.to_csv(folder / "manifest.csv", index=False)
    return table


def test_a_run_on_an_image_manifest_adds_radiomics_next_to_clinical_columns(tmp_path):
    png_cohort(tmp_path)
    run = insightome.run(
        tmp_path / "manifest.csv", "label", image_column="image", sensitive=("sex",),
        out_dir=tmp_path / "runs", **API_FAST,
    )  # fmt: skip
    features = run.model_card["features"]
    assert "age" in features and "image" not in features and "sex" not in features
    radiomics = [f for f in features if f.startswith("radiomics:")]
    assert len(radiomics) > 50
    assert {f.split(":")[1] for f in radiomics} >= {"statistics", "glcm", "glrlm", "glszm"}
    images = run.results["images"]
    assert images["n_images"] == 60 and images["ndim"] == 2
    assert images["formats"] == {"png": 60} and images["features"] == ["radiomics"]
    assert images["radiomics"]["columns"] >= len(radiomics)  # constant ones dropped later
    assert "figures" not in images
    # a disc against a ring is easy for first-order and shape features
    assert run.results["estimate"]["value"] > 0.85
    assert "sex" in json.dumps(run.results["audit"])
    validate_results(run.results)
    report = (run.path / "report.html").read_text()
    assert 'id="images"' in report and "No image is shown in this report" in report
    assert "Example images per class" not in report


def test_show_images_puts_examples_per_class_in_the_report(tmp_path):
    png_cohort(tmp_path, n=40)
    run = insightome.run(
        tmp_path / "manifest.csv", "label", image_column="image", show_images=True,
        out_dir=tmp_path / "runs", **API_FAST,
    )  # fmt: skip
    figures = run.results["images"]["figures"]
    assert set(figures) == {"examples"} and figures["examples"].startswith("data:image/png")
    report = (run.path / "report.html").read_text()
    assert "Example images per class" in report and figures["examples"] in report


def test_the_cli_reads_a_manifest_and_says_what_it_read(cli, tmp_path):
    png_cohort(tmp_path, n=40)
    result = cli("run", tmp_path / "manifest.csv", "--target", "label", "--image-column",
                 "image", "--out", tmp_path / "runs", *FAST)  # fmt: skip
    assert result.code == 0, result.err
    (run_dir,) = run_dirs(tmp_path / "runs")
    log = (run_dir / "run.log").read_text() if (run_dir / "run.log").exists() else result.err
    results = json.loads((run_dir / "results.json").read_text())
    assert results["images"]["n_images"] == 40
    assert results["invocation"]["image_column"] == "image"
    assert "images: 40 read (png 40; 2D)" in log + result.err + result.out


def _dicom(path, pixels: np.ndarray, manufacturer: str, patient: str = "") -> None:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.Manufacturer, ds.ManufacturerModelName = "CT", manufacturer, "Model X"
    ds.PatientName, ds.PatientID = patient, patient
    ds.Rows, ds.Columns = pixels.shape
    ds.PixelSpacing = [0.7, 0.7]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def test_dicom_manufacturer_serves_as_site_and_no_header_leaves(tmp_path):
    rng = np.random.default_rng(1)
    (tmp_path / "dcm").mkdir()
    rows = []
    for i in range(48):
        label = i % 2
        maker = "Acme" if i < 24 else "Globex"
        name = f"dcm/{i:03d}.dcm"
        _dicom(tmp_path / name, _picture(label, rng).astype(np.uint16) * 8, maker,
               patient=f"Doe^Jane{i}")  # fmt: skip
        rows.append({"id": f"D{i:03d}", "image": name, "label": label})
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.csv", index=False)
    run = insightome.run(
        tmp_path / "manifest.csv", "label", image_column="image", site="image:manufacturer",
        out_dir=tmp_path / "runs", **API_FAST,
    )  # fmt: skip
    images = run.results["images"]
    assert images["formats"] == {"dicom": 48}
    assert images["manufacturers"] == {"Acme": 24, "Globex": 24}
    assert images["with_patient_data"] == 48 and images["spacing_known"] == 48
    assert images["spacing_min"] == [0.7, 0.7]
    assert "Globex" in json.dumps(run.results.get("audit", {}))
    everything = (run.path / "report.html").read_text() + json.dumps(run.results)
    assert "Doe^Jane" not in everything and "Jane" not in everything


def test_a_missing_image_is_refused_in_one_line_naming_file_and_row(cli, tmp_path):
    table = png_cohort(tmp_path, n=30)
    (tmp_path / table["image"][7]).unlink()
    result = cli("run", tmp_path / "manifest.csv", "--target", "label", "--image-column",
                 "image", "--out", tmp_path / "runs", *FAST)  # fmt: skip
    assert result.code == 2
    line = result.err.strip()
    assert "\n" not in line and "s007.png" in line and "S007" in line
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_an_unknown_image_column_is_refused_with_a_hint(tmp_path):
    png_cohort(tmp_path, n=20)
    with pytest.raises(UserError) as info:
        insightome.run(tmp_path / "manifest.csv", "label", image_column="imag", **API_FAST)
    assert "image column 'imag' not found" in str(info.value) and "image" in str(info.value)


def test_a_mask_of_another_shape_is_refused(tmp_path):
    table = png_cohort(tmp_path, n=20)
    PILImage.fromarray(np.ones((16, 16), np.uint8) * 255).save(tmp_path / "mask_small.png")
    PILImage.fromarray(np.ones((32, 32), np.uint8) * 255).save(tmp_path / "mask.png")
    table["mask"] = ["mask.png"] * 19 + ["mask_small.png"]
    table.to_csv(tmp_path / "manifest.csv", index=False)
    with pytest.raises(UserError) as info:
        insightome.run(
            tmp_path / "manifest.csv", "label", image_column="image", mask_column="mask",
            **API_FAST,
        )  # fmt: skip
    message = str(info.value)
    assert "mask_small.png" in message and "S019" in message and "\n" not in message


def test_a_bin_width_too_fine_for_the_images_is_refused_in_one_line(tmp_path):
    png_cohort(tmp_path, n=20)
    with pytest.raises(UserError) as info:
        insightome.run(
            tmp_path / "manifest.csv", "label", image_column="image", radiomics_bin_width=0.01,
            **API_FAST,
        )  # fmt: skip
    message = str(info.value)
    assert "s000.png" in message and "more than 1024" in message
    assert "--radiomics-bin-width" in message and "\n" not in message


def test_a_saved_image_run_predicts_a_new_manifest_and_reruns_discovery(cli, tmp_path):
    png_cohort(tmp_path / "train", n=40, seed=0)
    new = png_cohort(tmp_path / "new", n=12, seed=5)
    run = insightome.run(
        tmp_path / "train" / "manifest.csv", "label", image_column="image",
        out_dir=tmp_path / "runs", **{**API_FAST, "discover": True},
    )  # fmt: skip
    table = insightome.predict(run.path, tmp_path / "new" / "manifest.csv", log=False)
    assert list(table.index) == list(new["id"])
    # the disc/ring task is easy: the saved model, on images it never saw
    assert (
        table["predicted_class"].astype(int).to_numpy() == new["label"].to_numpy()
    ).mean() >= 0.8
    assert any(n.startswith("images: 12 read (png 12)") for n in table.attrs["notes"])
    new.drop(columns="image").to_csv(tmp_path / "new" / "no_images.csv", index=False)
    result = cli("predict", run.path, tmp_path / "new" / "no_images.csv")
    assert result.code == 2 and "column 'image'" in result.err and "\n" not in result.err.strip()
    result = cli("discover", run.path)
    assert result.code == 0, result.err


def test_without_torch_a_cnn_run_says_to_install_the_extra(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from insightome import errors

    png_cohort(tmp_path, n=20)
    root = Path(__file__).resolve().parents[2]
    # a finder that refuses torch, as if not installed (sys.modules['torch'] = None would
    # break SciPy, which looks torch up in sys.modules)
    code = (
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ModuleNotFoundError(\"No module named 'torch'\")\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "from insightome.cli.app import main\n"
        f"sys.argv = ['insightome', 'run', {str(tmp_path / 'manifest.csv')!r}, '--target', "
        f"'label', '--image-column', 'image', '--image-features', 'radiomics,cnn', '--out', "
        f"{str(tmp_path / 'runs')!r}, '--quiet', '--preset', 'fast']\nmain()\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == errors.EXIT_USER_ERROR, done.stderr
    assert done.stderr.strip() == f"error: {errors.IMAGES_EXTRA_MISSING}"
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir())


def test_saved_run_rules_one_constant_image_a_changed_image_and_training_overlap(cli, tmp_path):
    png_cohort(tmp_path / "train", n=40, seed=0)
    run = insightome.run(
        tmp_path / "train" / "manifest.csv", "label", image_column="image",
        out_dir=tmp_path / "runs", **API_FAST,
    )  # fmt: skip
    # one new image whose texture features are undefined (a constant image): the run's
    # columns are rebuilt (missing values, imputed as in training), nothing is refused
    (tmp_path / "one").mkdir()
    PILImage.fromarray(np.full((32, 32), 90, np.uint8)).save(tmp_path / "one" / "flat.png")
    pd.DataFrame({"id": ["N1"], "image": ["flat.png"], "age": [61.0], "sex": ["F"]}).to_csv(
        tmp_path / "one" / "manifest.csv", index=False
    )
    table = insightome.predict(run.path, tmp_path / "one" / "manifest.csv", log=False)
    assert list(table.index) == ["N1"]
    # validating on the training images is caught as training overlap (by their pixels)
    result = cli("validate", run.path, tmp_path / "train" / "manifest.csv")
    assert result.code == 2 and "trained on" in result.err
    # a rerun must read the run's own images: a changed image is refused in one line
    PILImage.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "train" / "img" / "s003.png")
    result = cli("discover", run.path)
    assert result.code == 2 and "images changed since the run" in result.err
