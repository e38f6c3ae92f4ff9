"""hambox_torch — the torch backend of hambox (tensors, batched, any device).

Operations: :mod:`hambox_torch.boxes`, :mod:`hambox_torch.anchors`, the batched SMS, DMS,
NAMS and HAMBox matchers of :mod:`hambox_torch.matching`, :mod:`hambox_torch.losses`
(differentiable, with DDP normalisation) and :mod:`hambox_torch.postprocess`, each agreeing with
:mod:`hambox_core` as the conformance suite in ``tests/conformance`` checks.

The detector and its recipe: :mod:`hambox_torch.models` (ResNet / MobileNet trunks, LFPN, SSH,
heads, PyramidAnchors), :mod:`hambox_torch.data` (WIDER-format datasets, data-anchor-sampling
and the other training transforms, batching; :mod:`hambox_torch.data.embedded` generates the
embedded demo set) and :mod:`hambox_torch.engine` (typed configs, the training loop with DDP,
checkpoints, evaluation).
"""
