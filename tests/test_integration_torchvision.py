"""torchvision's RetinaNet trained through :func:`hambox_torch.integrations.torchvision.use_hambox`:
ResNet-18 FPN from random weights, 256 x 256 synthetic images, ``num_classes=2``."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")


import hambox_core  # noqa: E402
from hambox_torch import HAMBoxMatcher  # noqa: E402
from hambox_torch.integrations.torchvision import (  # noqa: E402
    build_retinanet,
    hambox_statistics,
    use_hambox,
)

SIZE = 256


def retinanet(seed: int = 0):
    torch.manual_seed(seed)
    return build_retinanet(image_size=SIZE, fpn_channels=64)


def synthetic_batch(seed: int = 0, n: int = 2):
    """Images with bright, textured squares of 12-80 px on noise; the squares are the faces."""
    rng = np.random.default_rng(seed)
    images, targets = [], []
    for _ in range(n):
        img = rng.uniform(0.0, 0.35, (3, SIZE, SIZE)).astype(np.float32)
        boxes = []
        for _ in range(int(rng.integers(2, 6))):
            s = float(np.exp(rng.uniform(np.log(12), np.log(80))))
            x, y = rng.uniform(0, SIZE - s, 2)
            x0, y0, x1, y1 = int(x), int(y), int(x + s), int(y + s)
            img[:, y0:y1, x0:x1] = 0.6 + 0.4 * rng.uniform(size=(3, y1 - y0, x1 - x0))
            boxes.append([x0, y0, x1, y1])
        images.append(torch.from_numpy(img))
        targets.append(
            {
                "boxes": torch.tensor(boxes, dtype=torch.float32),
                "labels": torch.ones(len(boxes), dtype=torch.int64),
            }
        )
    return images, targets


def test_use_hambox_sets_the_box_coding_and_refuses_other_models():
    model = use_hambox(retinanet())
    assert model.box_coder.weights == (10.0, 10.0, 5.0, 5.0)
    with pytest.raises(TypeError, match="RetinaNet"):
        use_hambox(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="loss"):
        use_hambox(retinanet(), loss="ohem")


@pytest.mark.slow
def test_retinanet_trains_with_hambox_and_still_detects():
    # A low online threshold (T = 0.2, K = 6): an untrained regressor rarely reaches 0.8.
    matcher = HAMBoxMatcher(top_k=6, online_iou_thr=0.2)
    model = use_hambox(retinanet(), matcher=matcher, loss="ral")
    images, targets = synthetic_batch()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()
    losses, compensated = [], 0
    for _ in range(40):
        out = model(images, targets)
        assert set(out) == {"classification", "bbox_regression"}
        total = out["classification"] + out["bbox_regression"]
        assert math.isfinite(total.item())
        optimizer.zero_grad()
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        losses.append(total.item())
        stats = hambox_statistics(model)
        compensated += stats["total"]["compensated"]
        assert stats["total"]["faces"] == sum(len(t["boxes"]) for t in targets)
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5]), losses
    assert compensated > 0

    # The adapter's labels are the matcher's own answer on the model's anchors.
    sup = model.hambox_last
    with torch.no_grad():
        image_list, _ = model.transform(images, targets)
        features = list(model.backbone(image_list.tensors).values())
        anchors = model.anchor_generator(image_list, features)[0]
    core = hambox_core.HAMBoxMatcher(top_k=6, online_iou_thr=0.2)
    for b, t in enumerate(targets):
        want = core(anchors.numpy(), t["boxes"].numpy(), pred_boxes=sup.pred_boxes[b].numpy())
        np.testing.assert_array_equal(sup.match.labels[b].numpy(), want.labels)
        np.testing.assert_array_equal(sup.match.compensated[b].numpy(), want.compensated)

    model.eval()
    with torch.no_grad():
        detections = model(images)
    assert len(detections) == 2
    for d in detections:
        assert set(d) >= {"boxes", "scores", "labels"}
        assert d["boxes"].shape[1] == 4 and torch.isfinite(d["boxes"]).all()
