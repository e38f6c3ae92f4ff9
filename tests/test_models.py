"""The detector network: output layout against the anchor grid, LFPN, SSH, heads, weights I/O."""

from __future__ import annotations

import math
import socket

import pytest
import torch
import torchvision

from hambox_core import AnchorGenerator as CoreAnchorGenerator
from hambox_torch.anchors import AnchorGenerator
from hambox_torch.models import (
    LFPN,
    SSH,
    DetectionHead,
    HAMBoxDetector,
    build_backbone,
    build_detector,
    head_anchors,
    head_boxes,
    scale_boxes,
)
from hambox_torch.models.detector import IMAGENET_MEAN, IMAGENET_STD

# Input sizes: square, non-square, and sides that are not multiples of 128 (odd grids).
SIZES = [(64, 64), (200, 136), (37, 91)]


def small_detector(**kwargs) -> HAMBoxDetector:
    """A small detector in eval mode (batch norm of a 1-image batch at 1x1 cells needs it)."""
    options = {"backbone": "resnet18", "channels": 8}
    options.update(kwargs)
    return HAMBoxDetector(**options).eval()


def replace_neck_output(model: HAMBoxDetector, make_levels):
    """Make the LFPN return ``make_levels(levels)`` instead of its output (ssh must be off)."""
    return model.lfpn.register_forward_hook(lambda _module, _inputs, out: make_levels(out))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return small_detector(pyramid_anchors=True)


# --- output layout --------------------------------------------------------------------------


@pytest.mark.parametrize("hw", SIZES)
def test_outputs_have_one_row_per_generator_anchor(model, hw):
    with torch.no_grad():
        out = model(torch.rand(2, 3, *hw))
    num_anchors = AnchorGenerator().grid_anchors(hw).shape[0]
    assert out.cls_logits.shape == (2, num_anchors)
    assert out.box_deltas.shape == (2, num_anchors, 4)
    assert out.head_cls_logits.shape == (2, num_anchors)
    assert out.head_box_deltas.shape == (2, num_anchors, 4)
    assert model.anchors(hw).shape == (num_anchors, 4)
    assert out.cls_logits.dtype == torch.float32


def test_outputs_are_float32_under_bfloat16_autocast(model):
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(torch.rand(1, 3, 32, 32))
    assert all(t.dtype == torch.float32 for t in out)


def test_without_pyramid_anchors_the_head_outputs_are_none():
    out = small_detector()(torch.rand(1, 3, 32, 32))
    assert out.head_cls_logits is None and out.head_box_deltas is None


@pytest.mark.parametrize(
    "generator",
    [
        AnchorGenerator(ratios=(1.0, 1.5)),
        AnchorGenerator(strides=(8, 16, 32, 64), base_sizes=(32, 64, 128, 256)),
        AnchorGenerator(strides=(4, 8, 16, 32), base_sizes=(16, 32, 64, 128)),
        CoreAnchorGenerator(strides=(16, 32, 64), base_sizes=(64, 128, 256)),
    ],
)
def test_other_anchor_layouts_line_up(generator):
    hw = (100, 68)
    with torch.no_grad():
        out = small_detector(anchor_generator=generator)(torch.rand(1, 3, *hw))
    assert out.box_deltas.shape == (1, generator.grid_anchors(hw).shape[0], 4)


def test_mobilenet_v2_lines_up():
    hw = (70, 36)
    with torch.no_grad():
        out = small_detector(backbone="mobilenet_v2")(torch.rand(1, 3, *hw))
    assert out.cls_logits.shape == (1, AnchorGenerator().grid_anchors(hw).shape[0])


@pytest.mark.parametrize(
    ("level", "y", "x"),
    # Interior cells (an x-major order would put them elsewhere), the last cell, the coarsest.
    [(0, 0, 0), (0, 5, 3), (0, 17, 9), (1, 2, 4), (2, 3, 1), (4, 1, 0), (5, 0, 0)],
)
def test_a_lit_feature_cell_lands_on_the_anchor_centred_there(level, y, x):
    """One non-zero cell at (level, y, x) must light up exactly that cell's anchors' rows."""
    hw = (72, 40)
    generator = AnchorGenerator(ratios=(1.0, 2.0))
    model = small_detector(anchor_generator=generator)
    with torch.no_grad():
        # Prediction convs that copy input channel 0 of the same cell, times a code that says
        # which anchor shape (a) and value (c) the output channel is.
        for predict, values in ((model.head.cls.predict, 1), (model.head.box.predict, 4)):
            predict.weight.zero_()
            predict.bias.zero_()
            for a in range(2):
                for c in range(values):
                    predict.weight[a * values + c, 0, 1, 1] = 10 * a + c + 1

    def light_one_cell(levels):
        levels = [torch.zeros_like(f) for f in levels]
        levels[level][0, 0, y, x] = 1.0
        return levels

    handle = replace_neck_output(model, light_one_cell)
    try:
        with torch.no_grad():
            out = model(torch.rand(1, 3, *hw))
    finally:
        handle.remove()
    anchors = model.anchors(hw)
    stride = generator.strides[level]
    lit = torch.nonzero(out.cls_logits[0]).flatten()
    assert len(lit) == 2
    for a, index in enumerate(lit.tolist()):
        assert out.cls_logits[0, index] == 10 * a + 1
        torch.testing.assert_close(out.box_deltas[0, index], torch.arange(1.0, 5.0) + 10 * a)
        box = anchors[index].double()
        centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        assert centre[0].item() == pytest.approx((x + 0.5) * stride, abs=1e-4)
        assert centre[1].item() == pytest.approx((y + 0.5) * stride, abs=1e-4)
        w, h = generator.anchor_shapes()[level, a]
        assert (box[2] - box[0]).item() == pytest.approx(w, rel=1e-5)
        assert (box[3] - box[1]).item() == pytest.approx(h, rel=1e-5)
    assert torch.count_nonzero(out.box_deltas) == 2 * 4


def test_features_that_do_not_fit_the_generator_grid_are_refused():
    class FloorGrid(AnchorGenerator):
        def feature_shapes(self, image_hw):
            return [(image_hw[0] // s, image_hw[1] // s) for s in self.strides]

    model = small_detector(anchor_generator=FloorGrid())
    model(torch.rand(1, 3, 128, 128))  # floor == ceil here: fine
    with pytest.raises(ValueError, match="anchor generator"):
        model(torch.rand(1, 3, 100, 128))


# --- heads and priors -------------------------------------------------------------------------


@pytest.mark.parametrize(("head", "prior"), [("single", 0.01), ("deep", 0.01), ("deep", 0.2)])
def test_initial_face_probability_is_the_prior(head, prior):
    model = small_detector(head=head, head_convs=2, prior_prob=prior, pyramid_anchors=True)
    handle = replace_neck_output(model, lambda levels: [torch.zeros_like(f) for f in levels])
    try:
        with torch.no_grad():
            out = model(torch.rand(1, 3, 32, 32))
    finally:
        handle.remove()
    for logits in (out.cls_logits, out.head_cls_logits):
        torch.testing.assert_close(torch.sigmoid(logits), torch.full_like(logits, prior))
    assert torch.count_nonzero(out.box_deltas) == 0


def test_deep_head_has_the_requested_tower():
    head = DetectionHead(8, num_anchors=1, kind="deep", num_convs=3)
    convs = [m for m in head.cls.tower if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 3
    assert len(DetectionHead(8, num_anchors=1, kind="single").cls.tower) == 0
    assert all(abs(c.weight.std().item() - 0.01) < 0.003 for c in convs)


# --- necks ------------------------------------------------------------------------------------


def level_inputs(lfpn: LFPN, hw=(200, 136), seed=0):
    gen = torch.Generator().manual_seed(seed)
    shapes = AnchorGenerator().feature_shapes(hw)
    return [
        torch.randn(1, conv.in_channels, h, w, generator=gen)
        for conv, (h, w) in zip(lfpn.laterals, shapes, strict=True)
    ]


def test_lfpn_top_down_path_starts_at_stride_32(model):
    lfpn = model.lfpn  # the detector's own configuration; strides 4..128
    inputs = level_inputs(lfpn)
    with torch.no_grad():
        base = lfpn(inputs)
        for level in (4, 5):  # stride 64, 128: change only themselves
            perturbed = list(inputs)
            perturbed[level] = inputs[level] + 1.0
            out = lfpn(perturbed)
            for lower in range(level):
                torch.testing.assert_close(out[lower], base[lower], rtol=0, atol=0)
            assert not torch.equal(out[level], base[level])
        perturbed = list(inputs)
        perturbed[3] = inputs[3] + 1.0  # stride 32 reaches every finer level
        out = lfpn(perturbed)
    for lower in range(4):
        assert not torch.allclose(out[lower], base[lower])


@pytest.mark.parametrize("hw", SIZES)
def test_lfpn_keeps_every_level_size(model, hw):
    inputs = level_inputs(model.lfpn, hw)
    with torch.no_grad():
        outputs = model.lfpn(inputs)
    assert [o.shape[-2:] for o in outputs] == [i.shape[-2:] for i in inputs]
    assert all(o.shape[1] == 8 for o in outputs)


def test_product_and_sum_fusion_differ_where_fused():
    torch.manual_seed(1)
    product = LFPN([4, 6, 8, 8], channels=8, top_down_start=2, fusion="product")
    summed = LFPN([4, 6, 8, 8], channels=8, top_down_start=2, fusion="sum")
    summed.load_state_dict(product.state_dict())
    inputs = [torch.randn(1, c, s, s) for c, s in ((4, 9), (6, 5), (8, 3), (8, 2))]
    with torch.no_grad():
        p, s = product(inputs), summed(inputs)
    for level in (0, 1):
        assert not torch.allclose(p[level], s[level])
    for level in (2, 3):
        torch.testing.assert_close(p[level], s[level], rtol=0, atol=0)


def test_detector_fusion_option_changes_the_output():
    images = torch.rand(1, 3, 40, 36)
    outputs = {}
    for fusion in ("product", "sum"):
        torch.manual_seed(2)
        with torch.no_grad():
            outputs[fusion] = small_detector(fusion=fusion)(images).box_deltas
    assert not torch.allclose(outputs["product"], outputs["sum"])


def test_ssh_branch_channels_and_output():
    ssh = SSH(16)
    assert ssh.conv3x3.out_channels == 8
    assert ssh.conv5x5.out_channels == 4
    assert ssh.conv7x7[-1].out_channels == 4
    out = ssh(torch.randn(2, 16, 7, 5))
    assert out.shape == (2, 16, 7, 5)
    assert out.min() >= 0 and out.max() > 0
    with pytest.raises(ValueError, match="divisible by 4"):
        SSH(10)


def test_ssh_can_be_chosen_per_level():
    model = small_detector(ssh=[True, True, False, False, False, False])
    assert [isinstance(m, SSH) for m in model.context] == [True, True] + [False] * 4
    assert all(isinstance(m, SSH) for m in small_detector(ssh=True).context)
    with pytest.raises(ValueError, match="ssh"):
        small_detector(ssh=[True, False])


# --- pyramid anchors --------------------------------------------------------------------------


def test_head_boxes_double_the_face_about_its_centre():
    faces = torch.tensor([[10.0, 20.0, 30.0, 60.0], [0.0, 0.0, 4.0, 2.0]])
    expected = torch.tensor([[0.0, 0.0, 40.0, 80.0], [-2.0, -1.0, 6.0, 3.0]])
    torch.testing.assert_close(head_boxes(faces), expected)
    batched = head_boxes(faces.expand(3, 2, 4))
    assert batched.shape == (3, 2, 4)
    torch.testing.assert_close(batched[2], expected)
    torch.testing.assert_close(head_anchors(faces), expected)


def test_scale_boxes_about_the_centre_and_checks_its_arguments():
    boxes = torch.tensor([[10.0, 20.0, 30.0, 60.0]])
    torch.testing.assert_close(scale_boxes(boxes, 0.5), torch.tensor([[15.0, 30.0, 25.0, 50.0]]))
    torch.testing.assert_close(scale_boxes(boxes, 1.0), boxes)
    for factor in (0.0, -1.0, math.inf):
        with pytest.raises(ValueError, match="factor"):
            scale_boxes(boxes, factor)
    with pytest.raises(ValueError, match="boxes"):
        scale_boxes(torch.zeros(3, 5), 2.0)


# --- backbones and weights --------------------------------------------------------------------


def test_images_are_normalised_with_imagenet_statistics():
    model = small_detector()
    seen = []
    model.backbone.conv1.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        model(mean.expand(1, 3, 16, 16))
        model((mean + std).expand(1, 3, 16, 16))
    torch.testing.assert_close(seen[0], torch.zeros(1, 3, 16, 16))
    torch.testing.assert_close(seen[1], torch.ones(1, 3, 16, 16))
    assert "pixel_mean" not in model.state_dict()


@pytest.mark.parametrize("wrap", [None, "state_dict", "model"])
def test_pretrained_weights_round_trip(tmp_path, wrap):
    torch.manual_seed(3)
    source = torchvision.models.resnet18(weights=None).state_dict()
    path = tmp_path / "resnet18.pth"
    torch.save(source if wrap is None else {wrap: source, "epoch": 90}, path)
    trunk = build_backbone("resnet18", pretrained_path=path)
    loaded = trunk.state_dict()
    assert set(loaded) == {k for k in source if not k.startswith("fc.")}
    for key, value in loaded.items():
        assert torch.equal(value, source[key]), key


def test_detector_loads_its_trunk_weights(tmp_path):
    torch.manual_seed(4)
    source = torchvision.models.mobilenet_v2(weights=None).state_dict()
    path = tmp_path / "mnv2.pth"
    torch.save(source, path)
    model = small_detector(backbone="mobilenet_v2", pretrained_path=str(path))
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, source[key]), key


def test_bad_pretrained_files_are_named_in_the_error(tmp_path):
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(FileNotFoundError, match=r"nowhere\.pth"):
        build_backbone("resnet18", pretrained_path=missing)
    other = tmp_path / "mnv2.pth"
    torch.save(torchvision.models.mobilenet_v2(weights=None).state_dict(), other)
    with pytest.raises(ValueError, match=r"mnv2\.pth.*missing keys"):
        build_backbone("resnet18", pretrained_path=other)
    reshaped = torchvision.models.resnet18(weights=None).state_dict()
    reshaped["conv1.weight"] = torch.zeros(64, 3, 3, 3)
    wrong_shape = tmp_path / "wrong_shape.pth"
    torch.save(reshaped, wrong_shape)
    with pytest.raises(ValueError, match=r"(?s)wrong_shape\.pth.*conv1\.weight"):
        build_backbone("resnet18", pretrained_path=wrong_shape)
    not_a_dict = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), not_a_dict)
    with pytest.raises(ValueError, match=r"tensor\.pth.*state dict"):
        build_backbone("resnet18", pretrained_path=not_a_dict)


@pytest.mark.parametrize(
    ("name", "channels"),
    [
        ("resnet18", (64, 128, 256, 512)),
        ("resnet34", (64, 128, 256, 512)),
        ("resnet50", (256, 512, 1024, 2048)),
        ("mobilenet_v2", (24, 32, 96, 1280)),
    ],
)
def test_backbones_build_offline_with_the_stated_channels(monkeypatch, name, channels):
    def no_network(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    trunk = build_backbone(name)
    with torch.no_grad():
        maps = trunk.eval()(torch.rand(1, 3, 70, 33))
    assert tuple(trunk.out_channels) == channels
    assert [m.shape[1] for m in maps] == list(channels)
    assert [tuple(m.shape[-2:]) for m in maps] == [
        (-(-70 // s), -(-33 // s)) for s in trunk.strides
    ]


# --- training ---------------------------------------------------------------------------------


def test_backward_reaches_every_parameter():
    torch.manual_seed(5)
    model = small_detector(
        channels=8, ssh=True, head="deep", head_convs=1, pyramid_anchors=True
    ).train()
    out = model(torch.rand(2, 3, 40, 36))
    loss = sum(t.float().square().mean() for t in out)
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
    assert any(p.grad.abs().sum() > 0 for p in model.backbone.parameters())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"backbone": "vgg16"}, "backbone"),
        ({"fusion": "max"}, "fusion"),
        ({"head": "shallow"}, "head"),
        ({"prior_prob": 1.0}, "prior_prob"),
        ({"anchor_generator": AnchorGenerator((4, 8, 16), (16, 32, 64))}, "strides"),
        ({"anchor_generator": AnchorGenerator((2, 4, 8, 16, 32), (8,) * 5)}, "strides"),
        ({"anchor_generator": "default"}, "anchor_generator"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_detector(backbone=kwargs.pop("backbone", "resnet18"), channels=8, **kwargs)


@pytest.mark.parametrize(
    "images", [torch.rand(3, 32, 32), torch.rand(1, 1, 32, 32), torch.zeros(1, 3, 8, 8).byte()]
)
def test_bad_images_are_refused(model, images):
    with pytest.raises(ValueError, match="images"):
        model(images)
