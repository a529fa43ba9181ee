"""Tests of the end-to-end metrics on small cases worked out by hand."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from maskwatch.data.voc import Box
from maskwatch.evaluation.detection import Prediction, average_precision, evaluate_scenes, iou

CLASSES = ("with_mask", "without_mask")
A, B, C = (0, 0, 10, 10), (20, 0, 30, 10), (40, 0, 50, 10)  # three disjoint faces
FAR = (100, 100, 110, 110)  # overlaps nothing


def P(box: tuple, score: float, label: str | None = "with_mask") -> Prediction:
    return Prediction(tuple(map(float, box)), score, label)


def test_iou_matrix() -> None:
    m = iou(np.array([A, (5, 0, 15, 10)]), np.array([A, (5, 0, 15, 10), B]))
    # A vs shifted A: intersection 5x10=50, union 100+100-50=150
    np.testing.assert_allclose(m, [[1, 1 / 3, 0], [1 / 3, 1, 0]])
    assert iou(np.zeros((0, 4)), np.array([A])).shape == (0, 1)
    assert iou(np.array([(1, 1, 1, 1)]), np.array([(1, 1, 1, 1)]))[0, 0] == 0  # empty union: 0, not NaN


def test_average_precision_all_point_interpolation() -> None:
    # envelope of precision from the right: [1, 1, .75, .75] at recall [.2, .4, .4, .6], 0 beyond .6
    # AP = .2*1 + .2*1 + 0*.75 + .2*.75 = .55
    ap = average_precision(np.array([0.2, 0.4, 0.4, 0.6]), np.array([1.0, 1.0, 0.67, 0.75]))
    assert ap == pytest.approx(0.55)
    assert average_precision(np.array([]), np.array([])) == 0.0
    with pytest.raises(ValueError):
        average_precision(np.array([0.5]), np.array([1.0, 1.0]))


def test_perfect_predictions() -> None:
    gt = [[Box("with_mask", A), Box("without_mask", B)], [Box("with_mask", C)]]
    preds = [[P(A, 0.9), P(B, 0.8, "without_mask")], [P(C, 0.7)]]
    r = evaluate_scenes(gt, preds, CLASSES)
    assert r["face_recall"] == r["face_ap50"] == r["map50"] == 1.0
    assert r["per_class"]["with_mask"] == {"ap50": 1.0, "recall": 1.0, "n_gt": 2, "n_pred": 2}
    assert (r["n_gt"], r["n_pred"], r["n_images"]) == (3, 3, 2)
    json.dumps(r)


def test_false_positive_ranked_first() -> None:
    # ranked FP, TP, TP with 2 GT: precision 0, 1/2, 2/3 at recall 0, .5, 1
    # envelope 2/3 at both recall steps: AP = .5*2/3 + .5*2/3 = 2/3
    r = evaluate_scenes(
        [[Box("with_mask", A), Box("with_mask", B)]], [[P(FAR, 0.9), P(A, 0.8), P(B, 0.7)]], CLASSES
    )
    assert r["per_class"]["with_mask"]["ap50"] == pytest.approx(2 / 3)
    assert r["face_ap50"] == pytest.approx(2 / 3)
    assert r["map50"] == pytest.approx(2 / 3)  # without_mask has no GT: left out of the mean
    assert r["per_class"]["without_mask"] == {"ap50": None, "recall": None, "n_gt": 0, "n_pred": 0}


def test_duplicate_is_false_positive() -> None:
    # ranked TP(A), FP(second A), TP(B): precision 1, 1/2, 2/3 at recall .5, .5, 1
    # AP = .5*1 + .5*2/3 = 5/6
    gt = [[Box("with_mask", A), Box("with_mask", B)]]
    r = evaluate_scenes(gt, [[P(A, 0.9), P((1, 0, 11, 10), 0.8), P(B, 0.7)]], CLASSES)
    assert r["per_class"]["with_mask"]["ap50"] == pytest.approx(5 / 6)
    assert r["face_recall"] == 1.0


def test_match_takes_highest_iou_unmatched_box() -> None:
    left, right = (0, 0, 10, 10), (4, 0, 14, 10)  # IoU between them 6/14
    pred = (3, 0, 13, 10)  # IoU 7/13 with left, 9/11 with right
    r = evaluate_scenes(
        [[Box("with_mask", left), Box("with_mask", right)]], [[P(pred, 0.9), P(left, 0.8)]], CLASSES
    )
    assert r["per_class"]["with_mask"]["ap50"] == 1.0  # first takes right, the second still finds left


def test_ignored_boxes_are_neither_tp_nor_fp() -> None:
    gt = [[Box("with_mask", A), Box("mask_weared_incorrect", B)]]
    preds = [[P(B, 0.95), P(B, 0.94, "without_mask"), P(A, 0.9)]]
    r = evaluate_scenes(gt, preds, CLASSES, ignore={"mask_weared_incorrect"})
    assert r["face_ap50"] == r["per_class"]["with_mask"]["ap50"] == 1.0
    assert r["n_gt"] == r["per_class"]["with_mask"]["n_gt"] == 1
    assert r["per_class"]["without_mask"]["n_gt"] == 0
    with pytest.raises(
        ValueError, match="mask_weared_incorrect"
    ):  # unknown GT names are not dropped silently
        evaluate_scenes(gt, preds, CLASSES)


def test_relabel_merges_classes() -> None:
    gt = [[Box("with_mask", A), Box("mask_weared_incorrect", B)]]
    preds = [[P(A, 0.9), P(B, 0.8, "without_mask")]]
    r = evaluate_scenes(gt, preds, CLASSES, relabel={"mask_weared_incorrect": "without_mask"})
    assert r["per_class"]["without_mask"] == {"ap50": 1.0, "recall": 1.0, "n_gt": 1, "n_pred": 1}
    assert r["map50"] == 1.0
    # ignore also applies to the mapped name
    r = evaluate_scenes(
        gt, preds, CLASSES, ignore={"without_mask"}, relabel={"mask_weared_incorrect": "without_mask"}
    )
    assert r["n_gt"] == 1 and r["per_class"]["without_mask"]["n_gt"] == 0


def test_wrong_class_is_fp_for_its_class_but_a_face() -> None:
    r = evaluate_scenes([[Box("with_mask", A)]], [[P(A, 0.9, "without_mask")]], CLASSES)
    assert r["face_recall"] == r["face_ap50"] == 1.0
    assert r["per_class"]["with_mask"]["ap50"] == r["per_class"]["with_mask"]["recall"] == 0.0
    assert r["map50"] == 0.0


def test_empty_predictions() -> None:
    r = evaluate_scenes([[Box("with_mask", A)], []], [[], []], CLASSES)
    assert r["face_recall"] == r["face_ap50"] == r["per_class"]["with_mask"]["ap50"] == 0.0
    assert (r["n_pred"], r["n_images"]) == (0, 2)


def test_image_without_ground_truth() -> None:
    # the prediction on the empty image ranks first and is a FP: precision 0, 1/2 at recall 0, 1 -> AP .5
    r = evaluate_scenes([[Box("with_mask", A)], []], [[P(A, 0.8)], [P(A, 0.9)]], CLASSES)
    assert r["face_ap50"] == r["per_class"]["with_mask"]["ap50"] == pytest.approx(0.5)
    assert r["face_recall"] == 1.0
    r = evaluate_scenes([[], []], [[P(A, 0.9)], []], CLASSES)
    assert r["face_ap50"] is None and r["map50"] is None


def test_class_score_and_any_prediction_object() -> None:
    # face score ranks the FP first (face AP .5); face score x confidence ranks the TP first (AP 1)
    preds = [
        [
            SimpleNamespace(box=FAR, score=0.9, label="with_mask", confidence=0.1),
            SimpleNamespace(box=A, score=0.8, label="with_mask", confidence=0.9),
            SimpleNamespace(box=B, score=0.7, label=None, confidence=None),
        ]
    ]
    r = evaluate_scenes([[Box("with_mask", A)]], preds, CLASSES, class_score=lambda p: p.score * p.confidence)
    assert r["face_ap50"] == pytest.approx(0.5)
    assert r["per_class"]["with_mask"]["ap50"] == 1.0
    assert r["per_class"]["with_mask"]["n_pred"] == 2 and r["n_pred"] == 3


def test_iou_threshold_and_input_checks() -> None:
    gt, preds = [[Box("with_mask", A)]], [[P((5, 0, 15, 10), 0.9)]]  # IoU 1/3
    assert evaluate_scenes(gt, preds, CLASSES)["face_recall"] == 0.0
    assert evaluate_scenes(gt, preds, CLASSES, iou_threshold=0.3)["face_recall"] == 1.0
    with pytest.raises(ValueError, match="prediction lists"):
        evaluate_scenes(gt, [], CLASSES)
    with pytest.raises(ValueError, match="predicted labels"):
        evaluate_scenes(gt, [[P(A, 0.9, "mask")]], CLASSES)
    with pytest.raises(ValueError, match="iou_threshold"):
        evaluate_scenes(gt, preds, CLASSES, iou_threshold=0)
