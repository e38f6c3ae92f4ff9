"""Detect faces in numpy arrays, PIL images or tensors of any size: ``Detector``.

The model sees images in batches of ``batch_size``; images are batched only with images of the
same padded size (each padded at the bottom and right to a multiple of the largest anchor
stride), so an image's detections never depend on which other images came with it.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

from hambox_torch.data.wider import image_to_rgb
from hambox_torch.pipeline.detection import DetectionSettings, detect_images, padded_size
from hambox_torch.recipe.devices import resolve_device
from hambox_torch.recipe.loading import load_detector

from .protocols import Protocol, get_protocol

__all__ = ["Detections", "Detector", "as_image_tensor"]


class Detections(NamedTuple):
    """The faces found in one image.

    Attributes
    ----------
    boxes : ndarray of shape (D, 4), float32
        xyxy boxes in the original image's pixel coordinates, clipped to the image.
    scores : ndarray of shape (D,), float32
        Face scores in [0, 1], decreasing.
    """

    boxes: np.ndarray
    scores: np.ndarray


def _check_float(values, name: str) -> None:
    lo, hi = float(values.min()), float(values.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} holds a NaN or infinite value")
    if lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"{name} is a float image with values in [{lo:g}, {hi:g}]; float images must be "
            "in [0, 1] (or pass uint8 in [0, 255])"
        )


def as_image_tensor(image, name: str = "image") -> torch.Tensor:
    """One input image as a float RGB tensor in [0, 1] of shape (3, H, W), on the CPU.

    Parameters
    ----------
    image : ndarray, PIL.Image.Image or Tensor
        numpy ``(H, W, 3)`` RGB, uint8 or float in [0, 1]; a PIL image of any mode (converted
        to RGB with its real range, :func:`hambox_torch.data.wider.image_to_rgb`); a tensor
        ``(3, H, W)``, uint8 or float in [0, 1].
    name : str
        How error messages call the image (e.g. ``"images[3]"``).

    Raises
    ------
    ValueError
        Wrong number of dimensions or channels, an empty image, a dtype other than uint8 or
        float, or float values that are NaN, infinite or outside [0, 1].
    TypeError
        Any other kind of object.

    Examples
    --------
    >>> as_image_tensor(np.full((2, 3, 3), 255, np.uint8)).shape
    torch.Size([3, 2, 3])
    """
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with torchvision
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        image = image_to_rgb(image)  # 16-bit and float modes keep their range
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(
                f"{name} must be a numpy array of shape (H, W, 3) (RGB), got {image.shape}"
            )
        array = np.ascontiguousarray(image)
        if not array.flags.writeable:  # torch refuses read-only memory
            array = array.copy()
        tensor = torch.from_numpy(array).permute(2, 0, 1)
    elif isinstance(image, torch.Tensor):
        if image.ndim != 3 or image.shape[0] != 3:
            raise ValueError(
                f"{name} must be a tensor of shape (3, H, W) (RGB), got {tuple(image.shape)}"
            )
        tensor = image.detach().cpu()
    else:
        raise TypeError(
            f"{name} must be a numpy array, a PIL image or a torch tensor, "
            f"got {type(image).__name__}"
        )
    if tensor.shape[1] == 0 or tensor.shape[2] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(tensor.shape)} as 3 x H x W)")
    if tensor.dtype == torch.uint8:
        return tensor.float().div_(255.0)
    if not tensor.is_floating_point():
        raise ValueError(f"{name} must be uint8 or floating point, got {tensor.dtype}")
    _check_float(tensor, name)
    return tensor.float()


class Detector:
    """Faces in images of any size, under a named test protocol.

    Parameters
    ----------
    model : HAMBoxDetector
        The detector; moved to ``device`` when one is given. It runs in eval mode (its mode is
        restored after each call).
    protocol : str or Protocol, default "single"
        ``"single"`` (original size), ``"vga"`` or ``"multiscale"`` (see
        :mod:`hambox_torch.inference.protocols`).
    settings : DetectionSettings, optional
        Score threshold, per-level top-k, NMS IoU and maximum detections of each single-scale
        pass (defaults: the WIDER FACE evaluation's, score threshold 0.01).
    device : str, torch.device or None
        Where the model runs; ``None``: where its parameters are.
    batch_size : int, default 8
        Images per forward pass.
    checkpoint : str or None
        The checkpoint the model came from (metadata only).
    config_name : str or None
        The model's config name (metadata only).

    Examples
    --------
    >>> from hambox_torch.models import build_detector
    >>> detector = Detector(build_detector(backbone="resnet18", channels=8))
    >>> result = detector.detect(np.zeros((40, 60, 3), np.uint8))
    >>> result.boxes.shape[1], result.boxes.dtype
    (4, dtype('float32'))
    >>> detector.detect([])
    []
    """

    def __init__(
        self,
        model,
        protocol="single",
        settings: DetectionSettings | None = None,
        device=None,
        *,
        batch_size: int = 8,
        checkpoint=None,
        config_name: str | None = None,
    ):
        if settings is None:
            settings = DetectionSettings()
        if not isinstance(settings, DetectionSettings):
            raise ValueError(f"settings must be a DetectionSettings, got {type(settings).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.protocol: Protocol = get_protocol(protocol)
        self.settings = settings
        self.batch_size = batch_size
        if device is not None:
            model = model.to(resolve_device(device))
        self.model = model
        self.checkpoint = None if checkpoint is None else os.fspath(checkpoint)
        self.config_name = config_name

    @classmethod
    def from_checkpoint(cls, path, device="cpu", **kwargs) -> Detector:
        """A detector from a checkpoint (see :func:`hambox_torch.recipe.load_detector`); other
        keyword arguments go to :class:`Detector`.

        Raises
        ------
        CheckpointError
            Missing, corrupted or foreign checkpoint.
        """
        model, cfg = load_detector(path, resolve_device(device))
        return cls(model, checkpoint=path, config_name=cfg.name, **kwargs)

    @property
    def device(self) -> torch.device:
        """Where the model runs."""
        return next(self.model.parameters()).device

    def metadata(self) -> dict:
        """What ``protocol.json`` records: protocol, detection settings and model.

        >>> from hambox_torch.models import build_detector
        >>> meta = Detector(build_detector(backbone="resnet18", channels=8), "vga").metadata()
        >>> meta["protocol"]["max_size"], meta["settings"]["score_thr"]
        ([640, 640], 0.01)
        """
        import hambox_core

        return {
            "protocol": self.protocol.to_dict(),
            "settings": dataclasses.asdict(self.settings),
            "model": {"config_name": self.config_name, "checkpoint": self.checkpoint},
            "hambox_version": hambox_core.__version__,
        }

    def detect(self, images):
        """Detect faces.

        Parameters
        ----------
        images : image or list of images
            Each a numpy ``(H, W, 3)`` RGB array (uint8, or float in [0, 1]), a PIL image (any
            mode, converted to RGB) or a tensor ``(3, H, W)`` (uint8, or float in [0, 1]);
            sizes may differ.

        Returns
        -------
        Detections or list of Detections
            One :class:`Detections` (numpy, original pixel coordinates) for one image, a list
            for a list or tuple (``[]`` for an empty one).

        Raises
        ------
        ValueError
            A malformed image, named ``images[i]`` (see :func:`as_image_tensor`).
        """
        single = not isinstance(images, (list, tuple))
        items = [images] if single else list(images)
        out = []
        for start in range(0, len(items), self.batch_size):
            chunk = [
                as_image_tensor(im, "image" if single else f"images[{start + k}]")
                for k, im in enumerate(items[start : start + self.batch_size])
            ]
            for boxes, scores in self.detect_tensors(chunk):
                out.append(Detections(boxes.float().numpy(), scores.float().numpy()))
        return out[0] if single else out

    @torch.no_grad()
    def detect_tensors(self, images: Sequence[torch.Tensor]) -> list[tuple]:
        """Detections of checked images, as tensors.

        Parameters
        ----------
        images : sequence of Tensor[3, H_i, W_i]
            Float RGB in [0, 1] (as :func:`as_image_tensor` returns), on any device.

        Returns
        -------
        list of (Tensor[D, 4], Tensor[D])
            Per image, xyxy boxes in its pixels and decreasing scores, on the CPU.
        """
        was_training = self.model.training
        self.model.eval()
        try:
            return self.protocol.detect(list(images), self._step)
        finally:
            self.model.train(was_training)

    def _step(self, images: list[torch.Tensor]) -> list[tuple]:
        """The single-scale step: images batched with others of the same padded size."""
        stride = max(self.model.anchor_generator.strides)
        padded = [
            (padded_size(int(im.shape[1]), stride), padded_size(int(im.shape[2]), stride))
            for im in images
        ]
        results: list = [None] * len(images)
        for size in sorted(set(padded)):
            same = [k for k, p in enumerate(padded) if p == size]
            for start in range(0, len(same), self.batch_size):
                idx = same[start : start + self.batch_size]
                found = detect_images(self.model, [images[k] for k in idx], self.settings)
                for k, r in zip(idx, found, strict=True):
                    results[k] = r
        return results
