"""Batching detection samples, and the seeded, epoch-aware training loader.

:func:`collate_detection` turns a list of ``(image, target)`` samples into one :class:`Batch`
of padded tensors. :func:`build_train_loader` builds a :class:`torch.utils.data.DataLoader`
whose order and augmentations depend only on ``(seed, epoch)``; the caller's part is one call
per epoch::

    loader = build_train_loader(dataset, 8, workers=2, seed=0)
    for epoch in range(start_epoch, epochs):
        loader.set_epoch(epoch)            # before iterating; also on resume
        for batch in loader:
            batch = batch.to(device)
            ...

To resume in the middle of an epoch, ``loader.set_epoch(epoch, start_batch=k)`` skips the
first ``k`` batches of that epoch without loading them; the remaining batches are exactly
those an uninterrupted run would have seen.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler, Sampler

__all__ = [
    "Batch",
    "EpochDataLoader",
    "EpochSampler",
    "build_train_loader",
    "check_loader_params",
    "collate_detection",
    "make_collate",
    "worker_init_fn",
]


@dataclass
class Batch:
    """A batch of images and their padded face boxes.

    Attributes
    ----------
    images : Tensor of shape (B, 3, H, W), float32
        Images in [0, 1], top-left aligned and zero-padded to the batch's ``H x W``.
    gt_boxes : Tensor of shape (B, Gmax, 4), float32
        XYXY boxes in each image's pixels; rows past an image's faces are zeros.
    gt_valid : Tensor of shape (B, Gmax), bool
        True for real faces. ``Gmax`` may be 0.
    image_ids : list of str
        ``target["image_id"]`` of each sample (``""`` where absent).
    sizes : Tensor of shape (B, 2), int64
        ``(height, width)`` of each image before padding.
    orig_sizes : Tensor of shape (B, 2), int64
        ``target["orig_size"]`` (the decoded file's size; ``sizes`` where absent).
    """

    images: torch.Tensor
    gt_boxes: torch.Tensor
    gt_valid: torch.Tensor
    image_ids: list[str]
    sizes: torch.Tensor
    orig_sizes: torch.Tensor

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def to(self, device, *, non_blocking: bool = False) -> Batch:
        """A copy with every tensor on ``device``."""
        return Batch(
            self.images.to(device, non_blocking=non_blocking),
            self.gt_boxes.to(device, non_blocking=non_blocking),
            self.gt_valid.to(device, non_blocking=non_blocking),
            list(self.image_ids),
            self.sizes.to(device, non_blocking=non_blocking),
            self.orig_sizes.to(device, non_blocking=non_blocking),
        )

    def pin_memory(self) -> Batch:
        """A copy in pinned memory (what ``DataLoader(pin_memory=True)`` calls)."""
        return Batch(
            self.images.pin_memory(),
            self.gt_boxes.pin_memory(),
            self.gt_valid.pin_memory(),
            list(self.image_ids),
            self.sizes.pin_memory(),
            self.orig_sizes.pin_memory(),
        )


def _round_up(x: int, multiple: int) -> int:
    return int(math.ceil(x / multiple) * multiple)


def collate_detection(batch: Sequence, *, pad_to: int = 1) -> Batch:
    """Stack ``(image, target)`` samples into a :class:`Batch`.

    Parameters
    ----------
    batch : sequence of (image, target)
        ``image`` (3, H, W) float in [0, 1] or uint8 (divided by 255); ``target`` a dict with
        ``"boxes"`` (G, 4) XYXY and optionally ``"image_id"`` and ``"orig_size"``.
    pad_to : int, default 1
        Round the padded height and width up to a multiple of this. The detector needs no
        padding (a level at stride ``s`` has ``ceil(H / s)`` cells for any ``H``), and padding
        320-pixel training crops to 384 would cost 44 % more computation; use e.g. 32 or 128
        only to reduce the number of distinct shapes at evaluation.

    Returns
    -------
    Batch

    Examples
    --------
    >>> a = (torch.ones(3, 2, 3), {"boxes": torch.tensor([[0.0, 0.0, 1.0, 1.0]])})
    >>> b = (torch.ones(3, 4, 1), {"boxes": torch.zeros(0, 4)})
    >>> out = collate_detection([a, b], pad_to=4)
    >>> tuple(out.images.shape), out.gt_valid.tolist(), out.sizes.tolist()
    ((2, 3, 4, 4), [[True], [False]], [[2, 3], [4, 1]])
    """
    if isinstance(pad_to, bool) or not isinstance(pad_to, int) or pad_to < 1:
        raise ValueError(f"pad_to must be a positive integer, got {pad_to!r}")
    if len(batch) == 0:
        raise ValueError("batch must hold at least one sample")
    images, boxes, ids, sizes, orig = [], [], [], [], []
    for k, sample in enumerate(batch):
        try:
            image, target = sample
        except (TypeError, ValueError):
            raise ValueError(f"batch[{k}] must be an (image, target) pair") from None
        image = torch.as_tensor(image).as_subclass(torch.Tensor)
        if image.ndim != 3 or image.shape[0] != 3:
            raise ValueError(f"batch[{k}] image must have shape (3, H, W), got {image.shape}")
        if image.dtype == torch.uint8:
            image = image.to(torch.float32) / 255.0
        elif not image.dtype.is_floating_point:
            raise ValueError(f"batch[{k}] image must be float or uint8, got {image.dtype}")
        b = torch.as_tensor(target["boxes"]).as_subclass(torch.Tensor).to(torch.float32)
        if b.ndim != 2 or b.shape[1] != 4:
            raise ValueError(f"batch[{k}] boxes must have shape (G, 4), got {tuple(b.shape)}")
        hw = (int(image.shape[1]), int(image.shape[2]))
        images.append(image)
        boxes.append(b)
        ids.append(str(target.get("image_id", "")))
        sizes.append(hw)
        orig.append(tuple(int(v) for v in target.get("orig_size", hw)))
    n = len(images)
    h = _round_up(max(s[0] for s in sizes), pad_to)
    w = _round_up(max(s[1] for s in sizes), pad_to)
    g = max(b.shape[0] for b in boxes)
    out = torch.zeros((n, 3, h, w), dtype=torch.float32)
    gt = torch.zeros((n, g, 4), dtype=torch.float32)
    valid = torch.zeros((n, g), dtype=torch.bool)
    for k, (image, b) in enumerate(zip(images, boxes, strict=True)):
        out[k, :, : image.shape[1], : image.shape[2]] = image
        gt[k, : b.shape[0]] = b
        valid[k, : b.shape[0]] = True
    return Batch(
        images=out,
        gt_boxes=gt,
        gt_valid=valid,
        image_ids=ids,
        sizes=torch.tensor(sizes, dtype=torch.int64).reshape(n, 2),
        orig_sizes=torch.tensor(orig, dtype=torch.int64).reshape(n, 2),
    )


def make_collate(pad_to: int = 1):
    """``collate_detection`` with ``pad_to`` bound (a picklable :func:`functools.partial`)."""
    if isinstance(pad_to, bool) or not isinstance(pad_to, int) or pad_to < 1:
        raise ValueError(f"pad_to must be a positive integer, got {pad_to!r}")
    return functools.partial(collate_detection, pad_to=pad_to)


class EpochSampler(Sampler):
    """Yields ``(index, epoch)`` keys in a seeded order that depends only on the epoch.

    Wraps a :class:`~torch.utils.data.DistributedSampler` (with one replica when not
    distributed), whose permutation is drawn from ``seed + epoch``; tagging each index with
    its epoch lets the dataset seed augmentations correctly even in persistent workers.

    Parameters
    ----------
    dataset : Dataset
    seed : int
    shuffle : bool, default True
    distributed : bool, default False
        Take this process's shard (needs an initialised process group).
    """

    def __init__(self, dataset, *, seed: int, shuffle: bool = True, distributed: bool = False):
        if distributed:
            self.inner = DistributedSampler(dataset, shuffle=shuffle, seed=seed)
        else:
            self.inner = DistributedSampler(
                dataset, num_replicas=1, rank=0, shuffle=shuffle, seed=seed
            )
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Select the epoch's order; leave out its first ``skip`` indices (mid-epoch resume)."""
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative integer, got {epoch!r}")
        if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
            raise ValueError(f"skip must be a non-negative integer, got {skip!r}")
        self.inner.set_epoch(epoch)
        self.epoch = epoch
        self.skip = skip

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for k, i in enumerate(self.inner):
            if k >= self.skip:
                yield (int(i), self.epoch)

    def __len__(self) -> int:
        return max(0, len(self.inner) - self.skip)


def worker_init_fn(worker_id: int) -> None:
    """Seed Python's and numpy's global generators in a worker from torch's worker seed.

    The transforms of :mod:`hambox_torch.data.transforms` do not use global generators (each
    sample has its own); this only keeps third-party code in a worker reproducible and its
    workers distinct.
    """
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - the legacy global generator is what others use


class EpochDataLoader(DataLoader):
    """A :class:`DataLoader` with ``set_epoch``; built by :func:`build_train_loader`."""

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select the epoch (sample order and augmentations); call before iterating.

        ``start_batch`` skips the epoch's first batches (resuming in the middle of an epoch).
        """
        self.sampler.set_epoch(epoch, skip=start_batch * self.batch_size)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)


def check_loader_params(batch_size, workers) -> None:
    """The rules :func:`build_train_loader` applies to ``batch_size`` (>= 1) and ``workers``
    (>= 0), for checking a config before a loader is built.

    >>> check_loader_params(0, 2)
    Traceback (most recent call last):
    ...
    ValueError: batch_size must be a positive integer, got 0
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"workers must be a non-negative integer, got {workers!r}")


def build_train_loader(
    dataset,
    batch_size: int,
    *,
    workers: int,
    seed: int,
    shuffle: bool = True,
    drop_last: bool = True,
    distributed: bool = False,
    pad_to: int = 1,
    pin_memory: bool = False,
    persistent_workers: bool = False,
) -> EpochDataLoader:
    """A training loader whose batches depend only on ``(seed, epoch)``.

    Parameters
    ----------
    dataset : WiderFaceDataset or any dataset accepting ``dataset[(index, epoch)]``
    batch_size : int
        Per process.
    workers : int
        DataLoader worker processes (0 loads in the main process; results are identical).
    seed : int
        Seeds the sample order (``seed + epoch``, as :class:`DistributedSampler` does); the
        augmentations are seeded by the dataset's own ``seed``.
    shuffle, drop_last : bool
    distributed : bool
        Shard with :class:`DistributedSampler` (an initialised process group is needed).
    pad_to : int, default 1
        See :func:`collate_detection`.
    pin_memory, persistent_workers : bool

    Returns
    -------
    EpochDataLoader
        Call ``loader.set_epoch(epoch)`` before each epoch (see the module docstring).
    """
    check_loader_params(batch_size, workers)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    sampler = EpochSampler(dataset, seed=seed, shuffle=shuffle, distributed=distributed)
    return EpochDataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=make_collate(pad_to),
        drop_last=drop_last,
        pin_memory=pin_memory,
        worker_init_fn=worker_init_fn if workers > 0 else None,
        generator=torch.Generator().manual_seed(seed),
        persistent_workers=persistent_workers and workers > 0,
    )
