"""Train the HAMBox detector: the paper's recipe on WIDER FACE, or a CPU demo on the embedded set.

With no arguments this trains the CPU demo (``configs/demo_cpu.yaml``: ResNet-18 at 320 px,
960 iterations) on the embedded WIDER-format data set, generated on first use, and ends
with the official easy / medium / hard AP on its validation split, a PR-curve PNG and a PNG of
detections. This is what ``make demo`` runs.

With ``--data-root`` pointing at a WIDER FACE copy (``WIDER_train/``, ``WIDER_val/``,
``wider_face_split/``, ``eval_tools/ground_truth/``) it uses the paper's recipe
(``configs/hambox_r50_widerface.yaml``) unless ``--config`` names another; give ImageNet weights
with ``model.pretrained_path=/path/resnet50.pth`` (never downloaded). Any config key can be
overridden: ``optim.lr=0.02 data.batch_size=4``. For 4 GPUs:

    torchrun --nproc_per_node=4 examples/train_widerface.py --data-root /data/widerface \\
        model.pretrained_path=/weights/resnet50.pth

Outputs go to ``run.output_dir`` (``--output-dir``): the resolved config, ``metrics.jsonl``,
checkpoints, evaluation predictions, ``pr_curves.png`` and ``detections.png``.

This script is the ``hambox train`` command (:mod:`hambox_torch.cli.train`).
"""

from __future__ import annotations

import argparse
import sys


def parse_args(argv=None) -> argparse.Namespace:
    from hambox_torch.cli.train import add_arguments

    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    return add_arguments(parser).parse_args(argv)


def main(argv=None) -> int:
    from hambox_torch.cli.train import run

    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
