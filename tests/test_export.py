"""ONNX export: onnxruntime against torch and against plain references, metadata, the CLI.

Exporting takes 10 to 20 s per file on two cores (tests that export are marked slow; the
whole file takes about a minute), so the file exports twice: the plain graph
of a tiny detector (module fixture) and, through ``hambox export --nms --check``, the NMS graph
of a checkpoint with PyramidAnchors on (module fixture), which the NMS tests then reuse.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

import onnx  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import hambox_core  # noqa: E402
from hambox_torch.anchors import AnchorGenerator  # noqa: E402
from hambox_torch.cli import main  # noqa: E402
from hambox_torch.cli.export import CHECK_TOLERANCE  # noqa: E402
from hambox_torch.export import (  # noqa: E402
    DecodedDetector,
    export_onnx,
    reference_outputs,
    require_onnx,
    run_onnx,
)
from hambox_torch.models import HAMBoxDetector  # noqa: E402
from hambox_torch.postprocess import postprocess_detections  # noqa: E402
from hambox_torch.recipe.checkpoint import save_checkpoint  # noqa: E402
from hambox_torch.recipe.components import build_model  # noqa: E402
from hambox_torch.recipe.config import load_config  # noqa: E402
from hambox_torch.recipe.loading import load_detector  # noqa: E402

#: onnxruntime vs torch: float32 convolutions summed in another order. Scores (probabilities)
#: within ATOL; boxes are pixels (up to ~500 here, where float32 steps by 3e-5) and the deltas'
#: rounding noise is multiplied by the anchor side in decoding, so boxes get BOX_RTOL on top.
ATOL = 1e-4
BOX_RTOL = 1e-5
#: (batch, height, width) run through one file: batch 1 and 2, multiples of the largest stride
#: and not, down to a single pixel (all padded in the graph).
SIZES = [(1, 128, 128), (2, 256, 384), (2, 100, 70), (1, 1, 1)]
NMS = {"score_thr": 0.5, "nms_iou_thr": 0.4, "max_detections": 100}


def spread_scores(model: HAMBoxDetector) -> HAMBoxDetector:
    """Logits spread over several units (scores over (0, 1), no near ties) instead of the
    prior's narrow band around 0.01; the box deltas keep their initial size, about 1."""
    with torch.no_grad():
        model.head.cls.predict.weight.mul_(8.0)
        model.head.cls.predict.bias.zero_()
    return model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return spread_scores(HAMBoxDetector(backbone="resnet18", channels=8)).eval()


@pytest.fixture(scope="module")
def plain_onnx(model, tmp_path_factory):
    return export_onnx(model, tmp_path_factory.mktemp("onnx") / "plain.onnx", example_hw=(256, 256))


def tiny_config(**extra):
    overrides = ["model.backbone=resnet18", "model.channels=8", "model.pyramid_anchors=true"]
    return load_config(None, overrides + [f"{k}={v}" for k, v in extra.items()])


@pytest.fixture(scope="module")
def cli_nms(tmp_path_factory):
    """``hambox export --nms --check`` on a checkpoint: (status, stdout, onnx path, model)."""
    folder = tmp_path_factory.mktemp("cli")
    cfg = tiny_config()
    torch.manual_seed(0)
    net = spread_scores(build_model(cfg.model, cfg.anchors))
    ckpt = save_checkpoint(folder / "ckpt.pt", model=net, optimizer=None, iteration=0, config=cfg)
    out = folder / "sub" / "nms.onnx"
    argv = ["export", "--weights", str(ckpt), "--onnx", str(out), "--nms", "--check"]
    argv += ["--score-thr", str(NMS["score_thr"]), "--nms-iou", str(NMS["nms_iou_thr"])]
    argv += ["--max-detections", str(NMS["max_detections"]), "--example-size", "256", "256"]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = main(argv)
    return status, stdout.getvalue(), out, load_detector(ckpt)[0]


def images(batch, h, w, seed=0):
    return torch.rand(batch, 3, h, w, generator=torch.Generator().manual_seed(seed))


def plain_reference(model, x):
    """Pad by hand, then the core's numpy decode of the core's anchors and a float64 sigmoid."""
    s = max(model.anchor_generator.strides)
    h, w = x.shape[-2:]
    hp, wp = -(-h // s) * s, -(-w // s) * s
    padded = torch.zeros(x.shape[0], 3, hp, wp)
    padded[:, :, :h, :w] = x
    with torch.no_grad():
        out = model(padded)
    anchors = hambox_core.AnchorGenerator(
        model.anchor_generator.strides,
        model.anchor_generator.base_sizes,
        model.anchor_generator.scale,
        model.anchor_generator.ratios,
    ).grid_anchors((hp, wp))
    boxes = np.stack([hambox_core.boxes.decode(anchors, d) for d in out.box_deltas.numpy()])
    scores = 1.0 / (1.0 + np.exp(-out.cls_logits.double().numpy()))
    return boxes, scores


# --------------------------------------------------------------------------------------------
# Anchors built in the graph
# --------------------------------------------------------------------------------------------


@settings(max_examples=30)
@given(
    st.integers(0, 300),
    st.integers(0, 300),
    st.sampled_from([(1.0,), (0.5, 1.0, 2.0)]),
    st.sampled_from([0.68, 0.3, 1.0]),
)
def test_torch_anchors_equal_the_core_bit_for_bit(h, w, ratios, scale):
    anchors = AnchorGenerator(scale=scale, ratios=ratios).grid_anchors((h, w))
    core = hambox_core.AnchorGenerator(scale=scale, ratios=ratios).grid_anchors((h, w))
    assert anchors.dtype == torch.float32
    np.testing.assert_array_equal(anchors.numpy(), core)


class _Anchors(torch.nn.Module):
    def __init__(self, generator):
        super().__init__()
        self.generator = generator

    def forward(self, images):
        return self.generator.grid_anchors_float64(images.shape[-2:]).float()


@pytest.mark.slow
def test_traced_anchors_follow_the_input_size_exactly():
    gen = AnchorGenerator(ratios=(1.0, 1.5))
    dims = {2: torch.export.Dim.DYNAMIC, 3: torch.export.Dim.DYNAMIC}
    program = torch.export.export(
        _Anchors(gen), (torch.zeros(1, 3, 512, 384),), dynamic_shapes={"images": dims}, strict=True
    )
    traced = program.module()
    for hw in [(512, 384), (640, 640), (257, 1000), (300, 259)]:
        got = traced(torch.zeros(1, 3, *hw))
        torch.testing.assert_close(got, gen.grid_anchors(hw), rtol=0, atol=0)


# --------------------------------------------------------------------------------------------
# The plain graph: boxes and scores
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("batch", "h", "w"), SIZES)
def test_onnxruntime_matches_torch_at_any_size_and_batch(model, plain_onnx, batch, h, w):
    x = images(batch, h, w)
    got = run_onnx(plain_onnx, x)
    boxes, scores = plain_reference(model, x)
    assert got["boxes"].shape == boxes.shape and got["scores"].shape == scores.shape
    assert got["boxes"].dtype == np.float32 and got["scores"].dtype == np.float32
    np.testing.assert_allclose(got["boxes"], boxes, rtol=BOX_RTOL, atol=ATOL)
    np.testing.assert_allclose(got["scores"], scores, rtol=0, atol=ATOL)
    # The scores are not all alike, so the comparison above can fail.
    assert scores.std() > 0.05


@pytest.mark.slow
def test_eager_wrapper_and_reference_outputs_agree_with_the_plain_reference(model):
    x = images(2, 100, 200, seed=3)
    boxes, scores = plain_reference(model, x)
    with torch.no_grad():
        wrapped = DecodedDetector(model)(x)
    ref = reference_outputs(model, x)
    for got in (dict(zip(("boxes", "scores"), (t.numpy() for t in wrapped), strict=True)), ref):
        # torch's and numpy's exp may differ by one float32 step (hambox_torch.boxes notes).
        np.testing.assert_allclose(got["boxes"], boxes, rtol=3e-7, atol=1e-5)
        np.testing.assert_allclose(got["scores"], scores, rtol=0, atol=1e-7)


@pytest.mark.slow
def test_metadata_and_dynamic_axes(model, plain_onnx):
    proto = onnx.load(plain_onnx)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["hambox_version"]
    assert json.loads(meta["strides"]) == list(model.anchor_generator.strides)
    assert json.loads(meta["anchor_generator"])["scale"] == model.anchor_generator.scale
    assert json.loads(meta["input_normalization"])["mean"] == [0.485, 0.456, 0.406]
    assert "boxes" in meta["outputs"] and "xyxy" in meta["outputs"]
    assert meta["nms"] == "null" and meta["opset"] == "18"
    assert {o.version for o in proto.opset_import if o.domain == ""} == {18}
    (inp,) = proto.graph.input
    dims = inp.type.tensor_type.shape.dim
    assert inp.name == "images" and dims[1].dim_value == 3
    assert all(d.dim_param and not d.dim_value for k, d in enumerate(dims) if k != 1)
    assert [o.name for o in proto.graph.output] == ["boxes", "scores"]

    # Named dimensions, not the exporter's s6, s37, ...: what a runtime shows the user.
    def shape(value):
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

    assert shape(inp) == ["batch", 3, "height", "width"]
    assert [shape(o) for o in proto.graph.output] == [
        ["batch", "num_anchors", 4],
        ["batch", "num_anchors"],
    ]


# --------------------------------------------------------------------------------------------
# The NMS graph, written by the CLI
# --------------------------------------------------------------------------------------------


def sorted_rows(rows: np.ndarray) -> np.ndarray:
    return rows[np.lexsort(rows.T[::-1])]


@pytest.mark.slow
def test_cli_round_trip_with_check(cli_nms):
    status, out, path, _ = cli_nms
    assert status == 0, out
    assert path.is_file()
    assert "max abs diff" in out and "detections (N, 6)" in out
    diff = float(out.rsplit("max abs diff", 1)[1].split()[0])
    assert diff <= CHECK_TOLERANCE
    meta = {p.key: p.value for p in onnx.load(path).metadata_props}
    assert json.loads(meta["nms"]) == {**NMS, "min_box_size": 1.0}


@pytest.mark.slow
def test_nms_graph_equals_postprocess_detections(cli_nms):
    *_, path, net = cli_nms
    x = images(1, 200, 300, seed=5)
    (dets,) = run_onnx(path, x).values()
    hw = (256, 384)
    padded = torch.zeros(1, 3, *hw)
    padded[:, :, :200, :300] = x
    with torch.no_grad():
        out = net(padded)
    ((boxes, scores),) = postprocess_detections(
        out.cls_logits,
        out.box_deltas,
        net.anchors(hw),
        net.anchor_generator.num_anchors_per_level(hw),
        pre_nms_top_k=None,
        image_hw=(200, 300),  # the graph clips to its input, then drops sub-pixel boxes
        **NMS,
    )
    want = np.concatenate([np.zeros((len(scores), 1)), boxes.numpy(), scores.numpy()[:, None]], 1)
    assert len(want) > 5
    assert dets.shape == want.shape and dets.dtype == np.float32
    np.testing.assert_allclose(sorted_rows(dets), sorted_rows(want), rtol=BOX_RTOL, atol=ATOL)
    # In decreasing score order, as postprocess_detections gives them.
    assert np.all(np.diff(dets[:, 5]) <= 0)


@pytest.mark.slow
def test_nms_graph_groups_a_batch_by_image_and_caps_each(cli_nms):
    *_, path, _ = cli_nms
    x = torch.cat([images(1, 256, 256, seed=6), torch.zeros(1, 3, 256, 256)])
    (dets,) = run_onnx(path, x).values()
    first = dets[dets[:, 0] == 0]
    assert set(np.unique(dets[:, 0])) <= {0.0, 1.0}
    assert np.all(np.diff(dets[:, 0]) >= 0)
    assert len(first) == NMS["max_detections"]  # the cap binds for this image
    assert np.all(dets[:, 5] > NMS["score_thr"])
    one = run_onnx(path, x[:1])["detections"]
    np.testing.assert_allclose(first, one, rtol=BOX_RTOL, atol=ATOL)


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"opset": 17}, "opset"),
        ({"opset": "18"}, "opset"),
        ({"example_hw": (128, 640)}, "example_hw"),
        ({"example_hw": 640}, "example_hw"),
        ({"score_thr": 1.5}, "score_thr"),
        ({"nms_iou_thr": -0.1}, "nms_iou_thr"),
        ({"max_detections": 0}, "max_detections"),
    ],
)
def test_bad_arguments_are_named(model, tmp_path, kwargs, name):
    with pytest.raises(ValueError, match=name):
        export_onnx(model, tmp_path / "x.onnx", **kwargs)
    assert not (tmp_path / "x.onnx").exists()


def test_not_a_detector(tmp_path):
    with pytest.raises(ValueError, match="HAMBoxDetector"):
        export_onnx(torch.nn.Conv2d(3, 3, 1), tmp_path / "x.onnx")


def test_missing_onnxruntime_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    require_onnx()  # the export itself does not need the runtime
    with pytest.raises(ImportError, match=r"pip install hambox\[onnx\]"):
        require_onnx(runtime=True)
    status = main(["export", "--weights", str(tmp_path / "w.pt"), "--onnx", "x.onnx", "--check"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("hambox export: error:") and "pip install hambox[onnx]" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("content", [b"not a checkpoint", None])
def test_foreign_or_corrupt_checkpoint_exits_2(tmp_path, capsys, content):
    path = tmp_path / "foreign.pt"
    if content is None:
        torch.save({"state_dict": {}}, path)
    else:
        path.write_bytes(content)
    status = main(["export", "--weights", str(path), "--onnx", str(tmp_path / "x.onnx")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("hambox export: error:") and str(path) in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.onnx").exists()


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["export", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in ("--weights", "--onnx", "--opset", "--nms", "--score-thr", "--nms-iou"):
        assert option in text
    for option in ("--max-detections", "--example-size", "--check", "pip install hambox[onnx]"):
        assert option in text
