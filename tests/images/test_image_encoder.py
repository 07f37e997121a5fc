"""The user's own encoder (featurize.images.encoder): a tiny 2-conv encoder made here, saved as
TorchScript (torch.jit.trace), as a torch.export program and as ONNX (the same weights
written as an ONNX graph with onnx.helper: torch.onnx.export needs onnxscript, not
installed, or the deprecated TorchScript exporter), gives the same embeddings in every
format; bad files and sidecars are one-line errors naming the file and the field."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from insightome import errors  # noqa: E402
from insightome.errors import UserError  # noqa: E402
from insightome.featurize.images.encoder import ImageEncoder  # noqa: E402

SPEC = {
    "input_size": [20, 20],
    "channels": 3,
    "mean": [0.5, 0.4, 0.3],
    "std": [0.2, 0.25, 0.3],
    "scale": 255,
    "name": "tiny",
}


def tiny_net(channels: int = 3, seed: int = 0):
    """Conv(3x3) → ReLU → Conv(3x3, stride 2) → ReLU → global average pool → flatten: (N, 8)."""
    torch.manual_seed(seed)
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(channels, 4, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 8, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    ).eval()


def save_torchscript(net, path: Path, spec: dict | None = None, channels: int = 3) -> Path:
    h, w = SPEC["input_size"]
    traced = torch.jit.trace(net, torch.zeros(1, channels, h, w))
    traced.save(str(path))
    if spec is not None:
        path.with_suffix(".json").write_text(json.dumps(spec))
    return path


def save_onnx(net, path: Path, spec: dict | None = None, batch: str | int = "n") -> Path:
    """The same weights as an ONNX graph built node by node (onnx.helper): no exporter."""
    c1, c2 = net[0], net[2]
    inits = [
        numpy_helper.from_array(t.detach().numpy(), name)
        for name, t in [("w1", c1.weight), ("b1", c1.bias), ("w2", c2.weight), ("b2", c2.bias)]
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["h1"], pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("Relu", ["h1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["h2"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["h2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["emb"], axis=1),
    ]
    c = c1.weight.shape[1]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, c, None, None])],
        [
            helper.make_tensor_value_info("emb", TensorProto.FLOAT, [batch, 8]),
            helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [batch, 8, 1, 1]),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    if spec is not None:
        path.with_suffix(".json").write_text(json.dumps(spec))
    return path


def images(n: int = 5, seed: int = 0) -> list[np.ndarray]:
    """Grey and colour 8-bit images of several sizes."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        shape = (30 + 3 * i, 26) if i % 2 else (24, 24 + i, 3)
        out.append(rng.integers(0, 256, shape).astype(np.uint8))
    return out


def test_torchscript_and_onnx_give_the_same_embeddings(tmp_path):
    net = tiny_net()
    ts = ImageEncoder.load(save_torchscript(net, tmp_path / "enc.pt", SPEC))
    ox = ImageEncoder.load(save_onnx(net, tmp_path / "enc.onnx", SPEC))
    a = ts.encode(images(7), batch_size=3)
    b = ox.encode(iter(images(7)), batch_size=4)  # streamed
    assert a.shape == b.shape == (7, 8) and a.dtype == np.float32
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert np.abs(a).sum() > 0 and not np.allclose(a[0], a[1])
    # the same as running the network by hand on the sidecar's preprocessing
    grey = images(2)[1]
    x = np.repeat(grey[None].astype(np.float32) / 255, 3, axis=0)
    from skimage.transform import resize

    x = resize(x.transpose(1, 2, 0), (20, 20), anti_aliasing=True, preserve_range=True, order=1)
    x = (x.transpose(2, 0, 1) - np.array(SPEC["mean"])[:, None, None]) / np.array(SPEC["std"])[
        :, None, None
    ]
    with torch.no_grad():
        direct = net(torch.from_numpy(x[None].astype(np.float32))).numpy()
    np.testing.assert_allclose(ts.encode([grey]), direct, rtol=1e-4, atol=1e-5)
    assert ts.encode([]).shape == (0, 8)


def test_a_torch_export_program_gives_them_too(tmp_path):
    net = tiny_net()
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(net, (torch.zeros(2, 3, 20, 20),), dynamic_shapes=({0: batch},))
    torch.export.save(program, tmp_path / "enc.pt2")
    (tmp_path / "enc.json").write_text(json.dumps(SPEC))
    exported = ImageEncoder.load(tmp_path / "enc.pt2")
    onnx_enc = ImageEncoder.load(save_onnx(net, tmp_path / "enc.onnx", SPEC))
    assert exported.info()["format"] == "exported"
    np.testing.assert_allclose(
        exported.encode(images(5)), onnx_enc.encode(images(5)), rtol=1e-4, atol=1e-5
    )
    junk = tmp_path / "junk.pt2"
    junk.write_bytes(b"PK not a program")
    junk.with_suffix(".json").write_text(json.dumps(SPEC))
    assert "cannot be loaded as a torch.export program" in error_of(junk)


def test_info_for_the_results(tmp_path):
    path = save_onnx(tiny_net(), tmp_path / "enc.onnx", {**SPEC, "output": "emb"})
    info = ImageEncoder.load(path).info()
    import hashlib

    assert info == {
        "format": "onnx",
        "file": "enc.onnx",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "name": "tiny",
        "input_size": [20, 20],
        "channels": 3,
        "mean": SPEC["mean"],
        "std": SPEC["std"],
        "scale": 255.0,
        "output": "emb",
        "output_dim": 8,
    }


def test_one_channel_minmax_fixed_batch_and_named_sidecar(tmp_path):
    spec = {**SPEC, "channels": 1, "mean": 0.5, "std": 0.5, "scale": "minmax"}
    net = tiny_net(channels=1)
    path = save_onnx(net, tmp_path / "grey.onnx", batch=1)  # a model exported for batch 1
    sidecar = tmp_path / "grey.onnx.json"  # <model>.json with the model's suffix kept
    sidecar.write_text(json.dumps(spec))
    enc = ImageEncoder.load(path)
    assert enc.sidecar == sidecar
    out = enc.encode(images(5), batch_size=4)  # colour images go to grey
    assert out.shape == (5, 8)
    ts = ImageEncoder.load(
        save_torchscript(net, tmp_path / "grey.pt", channels=1, spec=None), sidecar=sidecar
    )
    np.testing.assert_allclose(ts.encode(images(5)), out, rtol=1e-4, atol=1e-5)
    # minmax: the scale of the pixels does not matter
    img = images(1)[0].astype(np.float32)
    np.testing.assert_allclose(enc.encode([img]), enc.encode([img * 40 + 7]), atol=1e-5)


def error_of(path, **kwargs) -> str:
    with pytest.raises(UserError) as err:
        ImageEncoder.load(path, **kwargs)
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("input_size", [20]),
        ("input_size", [20, 0]),
        ("channels", 2),
        ("mean", [0.5, 0.5]),
        ("std", [0.2, 0.0, 0.3]),
        ("scale", 0),
        ("scale", "max"),
        ("name", 3),
    ],
)
def test_invalid_sidecar_names_the_field(tmp_path, field, value):
    path = save_torchscript(tiny_net(), tmp_path / "enc.pt", {**SPEC, field: value})
    message = error_of(path)
    assert f"field '{field}'" in message and "enc.json" in message


def test_bad_files_are_one_line_errors(tmp_path):
    net = tiny_net()
    # no sidecar
    bare = save_torchscript(net, tmp_path / "bare.pt")
    message = error_of(bare)
    assert message.startswith(str(bare)) and "bare.json" in message and "input_size" in message
    # a sidecar that is not JSON
    (tmp_path / "bare.json").write_text("{input_size: 1")
    assert "field '(file)'" in error_of(bare)
    # unknown format
    other = tmp_path / "enc.h5"
    other.write_bytes(b"x")
    assert error_of(other) == errors.ENCODER_FORMAT_UNKNOWN.format(path=other, suffix=".h5")
    # not a TorchScript archive: a state_dict saved with torch.save
    state = tmp_path / "state.pt"
    torch.save(net.state_dict(), state)
    state.with_suffix(".json").write_text(json.dumps(SPEC))
    assert "cannot be loaded as TorchScript" in error_of(state)
    # not an ONNX model
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    junk.with_suffix(".json").write_text(json.dumps(SPEC))
    assert "cannot be loaded as ONNX" in error_of(junk)
    # fails on the sidecar's input: one channel for a three-channel network
    wrong = save_torchscript(net, tmp_path / "wrong.pt", {**SPEC, "channels": 1, "mean": 0,
                                                            "std": 1})  # fmt: skip
    message = error_of(wrong)
    assert "fails on an input of shape (2, 1, 20, 20)" in message and "wrong.json" in message
    # an output that is not (N, d): a feature map
    fmap = torch.nn.Sequential(*list(net)[:4]).eval()
    maps = save_torchscript(fmap, tmp_path / "maps.pt", SPEC)
    assert "has shape (2, 8, 10, 10)" in error_of(maps)
    # an ONNX output the sidecar names that the model has not; the pooled 4D output
    onnx_path = save_onnx(net, tmp_path / "named.onnx", {**SPEC, "output": "nope"})
    assert "field 'output'" in error_of(onnx_path)
    onnx_path.with_suffix(".json").write_text(json.dumps({**SPEC, "output": "pooled"}))
    assert "'pooled' has shape (2, 8, 1, 1)" in error_of(onnx_path)


def test_missing_extra_is_the_install_hint(tmp_path, monkeypatch):
    path = save_onnx(tiny_net(), tmp_path / "enc.onnx", SPEC)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert error_of(path) == errors.IMAGES_EXTRA_MISSING


def test_three_dimensional_images_are_refused(tmp_path):
    enc = ImageEncoder.load(save_torchscript(tiny_net(), tmp_path / "enc.pt", SPEC))
    with pytest.raises(ValueError, match="2D images"):
        enc.encode([np.zeros((4, 20, 20))])
