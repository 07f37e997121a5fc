"""``insightome run`` with learned image features: the CNN trained inside every training
fold (``--image-features cnn``) and the user's pretrained encoder (``--image-encoder``), on
the self-made disc/ring cohort of test_run_images.py. Needs the images extra (torch,
onnxruntime); skipped cleanly without it."""

from __future__ import annotations

import json

import pytest

import insightome
from insightome.errors import UserError
from insightome.models import image_cnn
from tests.images.test_run_images import API_FAST, png_cohort

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from tests.images.test_image_encoder import SPEC, save_onnx, tiny_net  # noqa: E402


def test_the_cnn_is_trained_inside_each_fold_and_shared_by_the_candidates(tmp_path):
    png_cohort(tmp_path, n=48)
    image_cnn.clear_cache()
    run = insightome.run(
        tmp_path / "manifest.csv", "label", image_column="image", image_features=("cnn",),
        show_images=True, out_dir=tmp_path / "runs", **API_FAST,
    )  # fmt: skip
    names = [c["name"] for c in run.results["configurations"]]
    assert names and all(n.endswith("+cnn") for n in names)
    assert run.results["winner"]["params"]["cnn"] == {"epochs": 25, "patience": 5}
    assert run.results["images"]["cnn"]["size"] == 32
    # one cross-fit per training set (3 outer folds, the refit, discovery's and the audit's
    # refits), reused by every candidate of that training set
    stats = image_cnn.cache_stats()
    assert len(names) >= 3 and stats["trained"] <= 8
    assert stats["memory"] >= 3 * (len(names) - 1)
    assert run.results["estimate"]["value"] > 0.8
    figures = run.results["images"]["figures"]
    assert set(figures) == {"examples", "occlusion"}
    report = (run.path / "report.html").read_text()
    assert "Where the CNN looks" in report
    saved = (run.path / "model.joblib").read_bytes()
    assert b"ImageBank" not in saved  # the saved model keeps the CNN, not the images
    new = png_cohort(tmp_path / "new", n=10, seed=9)
    table = insightome.predict(run.path, tmp_path / "new" / "manifest.csv", log=False)
    accuracy = (table["predicted_class"].astype(int).to_numpy() == new["label"].to_numpy()).mean()
    assert accuracy >= 0.7


def test_an_onnx_encoder_gives_embedding_columns(tmp_path):
    png_cohort(tmp_path, n=40)
    model = save_onnx(tiny_net(channels=1), tmp_path / "enc.onnx",
                      {**SPEC, "channels": 1, "mean": [0.5], "std": [0.25]})  # fmt: skip
    run = insightome.run(
        tmp_path / "manifest.csv", "label", image_column="image",
        image_features=("radiomics", "encoder"), image_encoder=model, **API_FAST,
    )  # fmt: skip
    encoder = run.results["images"]["encoder"]
    assert encoder["format"] == "onnx" and encoder["output_dim"] == 8
    assert [f for f in run.model_card["features"] if f.startswith("encoder:")] == [
        f"encoder:{i}" for i in range(8)
    ]
    assert "pixels" not in json.dumps(encoder)


@pytest.mark.parametrize("learned", ["cnn", "encoder"])
def test_a_volume_is_refused_for_the_cnn_and_the_encoder_in_one_line(tmp_path, learned):
    import nibabel as nib
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        nib.save(nib.Nifti1Image(rng.normal(size=(8, 8, 4)).astype("float32"), np.eye(4)),
                 tmp_path / f"v{i}.nii.gz")  # fmt: skip
        rows.append({"id": f"V{i}", "image": f"v{i}.nii.gz", "label": i % 2})
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.csv", index=False)
    extra = {}
    if learned == "encoder":
        extra["image_encoder"] = save_onnx(
            tiny_net(channels=1), tmp_path / "enc.onnx",
            {**SPEC, "channels": 1, "mean": [0.5], "std": [0.25]},
        )  # fmt: skip
    with pytest.raises(UserError) as info:
        insightome.run(tmp_path / "manifest.csv", "label", image_column="image",
                       image_features=(learned,), **extra, **API_FAST)  # fmt: skip
    message = str(info.value)
    assert "v0.nii.gz" in message and "3D volume" in message and "\n" not in message
    assert ("the CNN" if learned == "cnn" else "the encoder") in message


def test_the_cnn_alone_on_a_manifest_without_clinical_columns(tmp_path):
    table = png_cohort(tmp_path, n=40)
    table[["id", "image", "label"]].to_csv(tmp_path / "only_images.csv", index=False)
    run = insightome.run(
        tmp_path / "only_images.csv", "label", image_column="image", image_features=("cnn",),
        **{**API_FAST, "discover": False},
    )  # fmt: skip
    assert run.model_card["features"] == []  # the table has no column: the score is made in fit
    assert run.results["winner"]["name"].endswith("+cnn")
    assert run.results["estimate"]["value"] > 0.8
    assert run.results["audit"]["explanations"]["features"] == []


def test_a_cnn_only_run_validates_new_images_and_takes_grey_and_colour(tmp_path):
    import numpy as np
    from PIL import Image as PILImage

    table = png_cohort(tmp_path, n=40)
    for name in table["image"][:3]:  # three colour images among grey ones
        grey = np.asarray(PILImage.open(tmp_path / name))
        PILImage.fromarray(np.stack([grey] * 3, axis=-1)).save(tmp_path / name)
    table[["id", "image", "label"]].to_csv(tmp_path / "only_images.csv", index=False)
    run = insightome.run(
        tmp_path / "only_images.csv", "label", image_column="image", image_features=("cnn",),
        out_dir=tmp_path / "runs", **{**API_FAST, "discover": False},
    )  # fmt: skip
    assert run.results["images"]["cnn"]["channels"] == 3
    assert any("37 grey image(s) repeated to 3 channels" in n for n in run.results["notes"])
    new = png_cohort(tmp_path / "new", n=30, seed=4)
    new[["id", "image", "label"]].to_csv(tmp_path / "new" / "only_images.csv", index=False)
    # no feature column: without the pixels' hashes every new row would equal a training row
    checked = insightome.validate(run.path, tmp_path / "new" / "only_images.csv")
    overlap = checked["training_overlap"]
    assert overlap["checked"] and overlap["n_overlap"] == 0
