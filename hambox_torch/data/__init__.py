"""Image data for training and evaluation: WIDER-format datasets, transforms and batching.

* :mod:`.wider` — :class:`WiderFaceDataset` (images + boxes of a WIDER FACE split, robust to
  bad files, deterministic per ``(seed, epoch, index)``), :class:`DataWarning`,
  :class:`DataStats`.
* :mod:`.transforms` — photometric distortion, data-anchor-sampling, square crop, flip, small
  face removal, and the :func:`train_transforms` / :func:`eval_transforms` recipes; every
  random draw comes from a generator the dataset hands in.
* :mod:`.collate` — :func:`collate_detection` into a padded :class:`Batch`, and
  :func:`build_train_loader`.
"""

from .collate import (
    Batch,
    EpochDataLoader,
    EpochSampler,
    build_train_loader,
    check_loader_params,
    collate_detection,
    make_collate,
    worker_init_fn,
)
from .transforms import (
    Compose,
    DataAnchorSampling,
    DataAnchorSamplingOrCrop,
    DetectionTransform,
    DropSmallFaces,
    PhotometricDistort,
    RandomHorizontalFlip,
    RandomSquareCrop,
    ToFloat,
    apply_transform,
    eval_transforms,
    train_transforms,
)
from .wider import (
    DataStats,
    DataWarning,
    ImageReadWarning,
    UnreadableImageError,
    WiderFaceDataset,
    find_image,
    read_image,
    read_image_or_warn,
)

__all__ = [
    "Batch",
    "Compose",
    "DataAnchorSampling",
    "DataAnchorSamplingOrCrop",
    "DataStats",
    "DataWarning",
    "DetectionTransform",
    "DropSmallFaces",
    "EpochDataLoader",
    "EpochSampler",
    "ImageReadWarning",
    "PhotometricDistort",
    "RandomHorizontalFlip",
    "RandomSquareCrop",
    "ToFloat",
    "UnreadableImageError",
    "WiderFaceDataset",
    "apply_transform",
    "build_train_loader",
    "check_loader_params",
    "collate_detection",
    "eval_transforms",
    "find_image",
    "make_collate",
    "read_image",
    "read_image_or_warn",
    "train_transforms",
    "worker_init_fn",
]
