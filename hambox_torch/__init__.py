"""hambox_torch — the torch backend of hambox (tensors, batched, any device).

Not implemented yet: the tensor versions of the core's operations, the detector and the training
recipe arrive with their issues. Until then, use :mod:`hambox_core`.
"""
