"""Adapters that put hambox's matching and losses into other libraries' detectors.

- :mod:`hambox_torch.integrations.torchvision` — :func:`~.torchvision.use_hambox` patches a
  torchvision :class:`~torchvision.models.detection.RetinaNet` to train with a hambox matcher
  and loss on its own anchors.

Each adapter sits on :mod:`hambox_torch.pipeline` (the supervision step) and needs no config,
checkpoint or training loop of hambox. Importing this package imports no adapter: import the
one you need.
"""

__all__: list[str] = []
