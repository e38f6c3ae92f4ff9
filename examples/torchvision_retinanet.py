"""A torchvision RetinaNet trained with HAMBox matching and the regression-aware focal loss.

The "any detector" path of hambox, end to end on the CPU in a few minutes: torchvision's own
``RetinaNet`` (ResNet-18 FPN, random weights, a narrow 64-channel FPN so that it runs on a
laptop) on the paper's anchors (:func:`~hambox_torch.integrations.torchvision.
paper_anchor_kwargs`), patched by :func:`~hambox_torch.integrations.torchvision.use_hambox`, fed
by hambox's WIDER-format data pipeline on the embedded data set (generated on first use), and
evaluated with the official WIDER FACE protocol of :mod:`hambox_core.evaluation` on the
validation images. Every ``--log-every`` steps it prints the losses and what the matcher did:
positives, compensated anchors and outer faces (faces with fewer than K step-one anchors).

Run: ``.venv/bin/python examples/torchvision_retinanet.py [--steps 300] [--online-iou-thr 0.5]``.
This is a smoke-scale run: the AP it prints shows that the pieces fit, not what RetinaNet can
reach.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def to_torchvision(batch):
    """A hambox Batch as torchvision's lists of images and target dicts (faces labelled 1)."""
    images, targets = [], []
    for b in range(batch.images.shape[0]):
        h, w = (int(v) for v in batch.sizes[b])
        boxes = batch.gt_boxes[b][batch.gt_valid[b]]
        images.append(batch.images[b, :, :h, :w])
        targets.append({"boxes": boxes, "labels": torch.ones(len(boxes), dtype=torch.int64)})
    return images, targets


def evaluate(model, root, max_images: int):
    """Official WIDER FACE AP (hambox_core) of the model's detections on the val images."""
    from hambox_core.evaluation import widerface
    from hambox_torch.data import find_image, read_image_or_warn
    from hambox_torch.inference import wider_rows

    gt = widerface.load_ground_truth(root / "eval_tools" / "ground_truth")
    keys = gt.keys()[:max_images]
    gt = gt.head(len(keys))
    preds = {}
    model.eval()
    with torch.no_grad():
        for event, stem in keys:
            image = read_image_or_warn(find_image(root / "WIDER_val" / "images", event, stem))
            if image is None:
                continue
            (det,) = model([image])
            keep = det["labels"] == 1
            preds[(event, stem)] = wider_rows(det["boxes"][keep], det["scores"][keep])
    model.train()
    return widerface.evaluate(preds, gt)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--size", type=int, default=256, help="training crop side (default 256)")
    parser.add_argument("--width", type=int, default=64, help="FPN channels (default 64)")
    parser.add_argument("--lr", type=float, default=3e-4, help="AdamW rate (default 3e-4)")
    parser.add_argument("--top-k", type=int, default=3, help="HAMBox K (default 3)")
    parser.add_argument(
        "--online-iou-thr",
        type=float,
        default=0.5,
        help="HAMBox T (default 0.5: a briefly trained regressor rarely reaches the paper's 0.8)",
    )
    parser.add_argument("--loss", choices=("ral", "focal"), default="ral")
    parser.add_argument("--log-every", type=int, default=25)
    parser.add_argument("--eval-images", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from hambox_torch import HAMBoxMatcher
    from hambox_torch.data import WiderFaceDataset, build_train_loader, train_transforms
    from hambox_torch.data.embedded import ensure_embedded
    from hambox_torch.integrations.torchvision import (
        build_retinanet,
        hambox_statistics,
        use_hambox,
    )

    torch.manual_seed(args.seed)
    root = ensure_embedded()
    dataset = WiderFaceDataset(root, "train", transform=train_transforms(args.size), seed=args.seed)
    loader = build_train_loader(dataset, args.batch_size, workers=0, seed=args.seed)
    matcher = HAMBoxMatcher(top_k=args.top_k, online_iou_thr=args.online_iou_thr)
    model = build_retinanet(
        image_size=args.size,
        fpn_channels=args.width,
        detections_per_img=300,
        score_thresh=0.01,
    )
    model = use_hambox(model, matcher=matcher, loss=args.loss)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    print(f"torchvision RetinaNet (ResNet-18 FPN-{args.width}) + hambox {matcher!r}, "
          f"loss {args.loss}, {args.steps} steps of {args.batch_size} x {args.size}^2")  # fmt: skip
    step, epoch, t0 = 0, 0, time.perf_counter()
    window: dict[str, list] = {"cls": [], "loc": [], "pos": [], "comp": [], "outer": []}
    model.train()
    while step < args.steps:
        loader.set_epoch(epoch)
        for batch in loader:
            images, targets = to_torchvision(batch)
            losses = model(images, targets)
            total = losses["classification"] + losses["bbox_regression"]
            optimizer.zero_grad()
            total.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimizer.step()
            step += 1
            stats = hambox_statistics(model)["total"]
            window["cls"].append(losses["classification"].item())
            window["loc"].append(losses["bbox_regression"].item())
            window["pos"].append(stats["positives"])
            window["comp"].append(stats["compensated"])
            window["outer"].append(stats["outer_faces"])
            if step % args.log_every == 0 or step == args.steps:
                outer = sum(window["outer"])
                per_outer = sum(window["comp"]) / outer if outer else float("nan")
                print(
                    f"step {step:4d}  loss_cls {np.mean(window['cls']):.3f}  "
                    f"loss_loc {np.mean(window['loc']):.3f}  positives/batch "
                    f"{np.mean(window['pos']):.1f}  compensated/batch {np.mean(window['comp']):.2f}"
                    f"  per outer face {per_outer:.3f}  ({time.perf_counter() - t0:.0f} s)"
                )
                window = {k: [] for k in window}
            if step == args.steps:
                break
        epoch += 1
    ap = evaluate(model, root, args.eval_images)
    print(f"official WIDER FACE AP on the first {args.eval_images} embedded val images "
          f"(smoke scale): " + ", ".join(f"{k} {v:.3f}" for k, v in ap.items()))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
