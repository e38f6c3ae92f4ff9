"""``read_image``: every Pillow mode becomes RGB uint8 with its real range (issue 16.5)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from hambox_torch.data.wider import UnreadableImageError, image_to_rgb, read_image


def rgb(path) -> np.ndarray:
    return read_image(path).permute(1, 2, 0).numpy()


@settings(deadline=None, max_examples=25)
@given(arrays(np.uint16, st.tuples(st.integers(1, 6), st.integers(1, 6))))
def test_16_bit_png_keeps_its_range(tmp_path_factory, values):
    path = tmp_path_factory.mktemp("png") / "grey16.png"
    Image.fromarray(values).save(path)
    with Image.open(path) as im:
        assert im.mode in ("I;16", "I")  # how Pillow decodes a 16-bit grey PNG
    expected = np.rint(values.astype(np.float64) * 255 / 65535).astype(np.uint8)
    got = rgb(path)
    assert got.shape == (*values.shape, 3)
    for c in range(3):
        np.testing.assert_array_equal(got[:, :, c], expected)


def test_a_16_bit_gradient_is_not_clipped_at_255(tmp_path):
    ramp = np.linspace(0, 65535, 256).astype(np.uint16)[None, :].repeat(4, axis=0)
    Image.fromarray(ramp).save(tmp_path / "ramp.png")
    got = rgb(tmp_path / "ramp.png")[0, :, 0]
    assert got[0] == 0 and got[-1] == 255
    assert (got == 255).mean() < 0.01  # Pillow's own convert("RGB") made 99.6 % of them 255
    assert (np.diff(got.astype(int)) >= 0).all() and len(np.unique(got)) > 250


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (np.array([[0, 1000, 65535]], np.int32), [0, 4, 255]),  # 16-bit data in mode I
        (np.array([[-100, 0, 300]], np.int32), [0, 64, 255]),  # other ranges are stretched
        (np.array([[0.0, 0.5, 1.0]], np.float32), [0, 128, 255]),  # float in [0, 1]
        (np.array([[0.0, 100.0, 255.0]], np.float32), [0, 100, 255]),  # float in [0, 255]
        (np.array([[-1.0, 0.0, 3.0]], np.float32), [0, 64, 255]),  # stretched
        (np.array([[7, 7, 7]], np.int32), [0, 0, 0]),  # constant: 16-bit range
    ],
)
def test_wide_modes(values, expected):
    im = Image.fromarray(values, mode="I" if values.dtype == np.int32 else "F")
    out = image_to_rgb(im)
    assert out.dtype == np.uint8 and out.shape == (1, 3, 3)
    assert out[0, :, 0].tolist() == expected
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


def test_a_float_image_with_nan_is_unreadable(tmp_path):
    path = tmp_path / "nan.tif"
    Image.fromarray(np.array([[np.nan, 1.0]], np.float32), mode="F").save(path)
    with pytest.raises(UnreadableImageError, match="NaN"):
        read_image(path)


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGBA", "LA", "CMYK", "YCbCr", "I;16"])
def test_every_common_mode_reads_as_rgb_uint8(tmp_path, mode):
    base = Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3) * 5)
    im = base.convert(mode) if mode != "I;16" else Image.fromarray(np.full((4, 4), 4000, "<u2"))
    suffix = ".jpg" if mode in ("CMYK", "YCbCr") else ".png" if mode != "1" else ".bmp"
    path = tmp_path / f"image{suffix}"
    im.save(path)
    out = read_image(path)
    assert tuple(out.shape) == (3, 4, 4) and str(out.dtype) == "torch.uint8"
    if mode in ("L", "RGBA", "LA"):
        want = np.asarray(base.convert("L" if mode != "RGBA" else "RGB"))
        got = out.permute(1, 2, 0).numpy()
        assert np.array_equal(got[..., 0], want if want.ndim == 2 else want[..., 0])


def test_a_one_pixel_image(tmp_path):
    Image.new("RGB", (1, 1), (10, 20, 30)).save(tmp_path / "dot.png")
    assert rgb(tmp_path / "dot.png").tolist() == [[[10, 20, 30]]]
