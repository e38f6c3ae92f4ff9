"""hambox_torch — the torch backend of hambox (tensors, batched, any device).

Available: :mod:`hambox_torch.boxes`, :mod:`hambox_torch.anchors`, :mod:`hambox_torch.losses`
(differentiable, with DDP normalisation), :mod:`hambox_torch.postprocess` and the batched SMS
and DMS matchers of :mod:`hambox_torch.matching`, each agreeing with :mod:`hambox_core` as the
conformance suite in ``tests/conformance`` checks. NAMS and HAMBox on tensors, the detector and
the training recipe are still to come; use :mod:`hambox_core` for those operations meanwhile.
"""
