"""hambox_torch — the torch backend of hambox (tensors, batched, any device).

Operations: :mod:`hambox_torch.boxes`, :mod:`hambox_torch.anchors`, the batched SMS, DMS,
NAMS and HAMBox matchers of :mod:`hambox_torch.matching`, :mod:`hambox_torch.losses`
(differentiable, with DDP normalisation) and :mod:`hambox_torch.postprocess`, each agreeing with
:mod:`hambox_core` as the conformance suite in ``tests/conformance`` checks.
"""
