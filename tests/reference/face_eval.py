"""Plain reference of the AFW / PASCAL Face protocol of the ``face-eval`` toolbox.

Transcribed from the toolbox's ``VOCpr.py`` (``VOCprRecordOptim``, ``evaluate_optim``,
``transf_dets``, ``filterdet``, ``drawPrfast``, ``VOCap``), ``util.overlap`` and the AFW /
PASCAL readers of ``database.py``: detections as a list ``[name, score, x0, y0, x1, y1]``,
faces as ``(y0, x0, y1, x1, 0, ignore)`` tuples, Python loops throughout. Only the Python 2
constructs are modernised; the one departure is the library's documented choice for a round
without true positives (identity instead of NaN), mirrored here.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["evaluate_optim_reference"]


def overlap(rect1, rect2):
    dy1 = abs(rect1[0] - rect1[2]) + 1
    dx1 = abs(rect1[1] - rect1[3]) + 1
    dy2 = abs(rect2[0] - rect2[2]) + 1
    dx2 = abs(rect2[1] - rect2[3]) + 1
    a1 = dx1 * dy1
    a2 = dx2 * dy2
    ia = 0
    if rect1[2] > rect2[0] and rect2[2] > rect1[0] and rect1[3] > rect2[1] and rect2[3] > rect1[1]:
        xx1 = max(rect1[1], rect2[1])
        yy1 = max(rect1[0], rect2[0])
        xx2 = min(rect1[3], rect2[3])
        yy2 = min(rect1[2], rect2[2])
        ia = (xx2 - xx1 + 1) * (yy2 - yy1 + 1)
    return ia / float(a1 + a2 - ia)


def vocpr_record_optim(gt_images, detlist, ovr=0.5):
    tx, ty, sx, sy = [], [], [], []
    dimg = {}
    tot = 0
    for img in gt_images:
        rect = list(img["bbox"])
        if rect != []:
            dimg[img["name"]] = {"bbox": rect, "det": [False] * len(rect)}
            for recti in rect:
                if recti[5] == 0:
                    tot = tot + 1
    tp = np.zeros(len(detlist))
    fp = np.zeros(len(detlist))
    thr = np.zeros(len(detlist))
    detlist = sorted(detlist, key=lambda d: -d[1])  # stable, like cmp-sort in Python 2
    for idx, detbb in enumerate(detlist):
        maxovr = 0
        gt = 0
        if detbb[0] in dimg:
            rect = dimg[detbb[0]]["bbox"]
            for ir, r in enumerate(rect):
                rb = (float(detbb[3]), float(detbb[2]), float(detbb[5]), float(detbb[4]))
                covr = overlap(rb, r)
                if covr >= maxovr:
                    maxovr = covr
                    gt = ir
        if maxovr > ovr:
            if dimg[detbb[0]]["bbox"][gt][5] == 0:
                if not dimg[detbb[0]]["det"][gt]:
                    tp[idx] = 1
                    dimg[detbb[0]]["det"][gt] = True
                    g = dimg[detbb[0]]["bbox"][gt]
                    gtx = g[3] - g[1]
                    dtx = detbb[4] - detbb[2]
                    gty = g[2] - g[0]
                    dty = detbb[5] - detbb[3]
                    gtcx = (g[3] + g[1]) / 2.0
                    dtcx = (detbb[4] + detbb[2]) / 2.0
                    gtcy = (g[2] + g[0]) / 2.0
                    dtcy = (detbb[5] + detbb[3]) / 2.0
                    tx.append((gtcx - dtcx) / float(dtx))
                    ty.append((gtcy - dtcy) / float(dty))
                    sx.append(gtx / float(dtx))
                    sy.append(gty / float(dty))
                else:
                    fp[idx] = 1
        else:
            fp[idx] = 1
        thr[idx] = detbb[1]
    return tp, fp, thr, tot, tx, ty, sx, sy


def vocap(rec, prec):
    mrec = np.concatenate(([0], rec, [1]))
    mpre = np.concatenate(([0], prec, [0]))
    for i in range(len(mpre) - 2, 0, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    i = np.where(mrec[1:] != mrec[0:-1])[0] + 1
    return np.sum((mrec[i] - mrec[i - 1]) * mpre[i])


def filterdet(det, minpix):
    ndet = []
    for d in det:
        if ((d[4] - d[2]) > minpix) or ((d[5] - d[3]) > minpix):
            ndet.append([d[0], d[1], d[2], d[3], d[4], d[5]])
    return ndet


def transf_dets(dets, tx, ty, sx, sy):
    dets2 = []
    for el in dets:
        w = (el[4] - el[2]) / 2.0
        h = (el[5] - el[3]) / 2.0
        cx = (el[4] + el[2]) / 2.0 + tx * w * 2
        cy = (el[5] + el[3]) / 2.0 + ty * h * 2
        dets2.append([el[0], el[1], cx - w * sx, cy - h * sy, cx + w * sx, cy + h * sy])
    return dets2


def evaluate_optim_reference(detections, annotations, min_size=30, iterations=5, ovr=0.5):
    """``(ap, tp, fp)`` for ``{name: (N, 5) x0 y0 x1 y1 score}`` and ``{name: (G, 4|5)}``."""
    gt_images = []
    for name, arr in annotations.items():
        bbox = []
        a = np.asarray(arr, dtype=np.float64)
        if a.size == 0:
            a = a.reshape(0, 4)
        for row in a:
            ign = int(row[4] != 0) if row.shape[0] == 5 else 0
            b = [row[1], row[0], row[3], row[2], 0, ign]
            h = abs(float(b[0]) - float(b[2]))
            w = abs(float(b[1]) - float(b[3]))
            if w < min_size or h < min_size:
                b[5] = 1
            bbox.append(b)
        gt_images.append({"name": name, "bbox": bbox})
    dets = []
    for name, arr in detections.items():
        for x0, y0, x1, y1, s in np.asarray(arr, dtype=np.float64).reshape(-1, 5).tolist():
            dets.append([name, s, x0, y0, x1, y1])
    minpix = int(math.sqrt(0.5 * min_size * min_size))
    dets = filterdet(dets, minpix)
    for _ in range(iterations):
        tp, fp, _, tot, tx, ty, sx, sy = vocpr_record_optim(gt_images, dets, ovr=ovr)
        if tx:
            tx, ty, sx, sy = (float(np.mean(v)) for v in (tx, ty, sx, sy))
        else:
            tx, ty, sx, sy = 0.0, 0.0, 1.0, 1.0
        dets = transf_dets(dets, tx, ty, sx, sy)
    ctp = np.cumsum(tp)
    cfp = np.cumsum(fp)
    with np.errstate(all="ignore"):
        rec = ctp / tot
        prec = ctp / (cfp + ctp)
    return float(vocap(rec, prec)), tp, fp
