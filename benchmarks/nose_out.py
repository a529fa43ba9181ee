"""Masks worn under the nose, made from real masked faces: a bare nose from another person, aligned by the
detector's landmarks and matched to the skin colour, laid over the top of a real mask.

MaskedFace-Net's one blue template lets a model learn the template instead of the nose, and masks drawn by
`maskwatch synth` look drawn; here the mask stays a real one (any kind, colour, fold) and only the nose is
new. Used as variant F of `third_class.py`.

    python benchmarks/nose_out.py --masked ../shared/datasets/mask-classify/with_mask \
        --bare ../shared/datasets/mask-classify/without_mask --out runs/third_class/nose_out
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from maskwatch.io.images import IMAGE_SUFFIXES, UnreadableImage, iter_files, read_image, write_image
from maskwatch.training.synth import CROP_SIZE, faces_with_landmarks
from maskwatch.vision.classes import INCORRECT
from maskwatch.vision.crops import face_crop
from maskwatch.vision.detector import CenterFace
from maskwatch.vision.results import Face


def _lab_stats(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    return lab.mean(0), lab.std(0) + 1.0


def nose_out(masked: np.ndarray, face: Face, bare: np.ndarray, donor: Face, rng: np.random.Generator
             ) -> np.ndarray | None:
    """`masked` with the donor's nose, warped onto its own (eyes and nose landmarks) and recoloured to its
    forehead, down to 30-55% of the way from nose to mouth: the mask now sits under the nose."""
    points, donor_points = np.array(face.landmarks, np.float32), np.array(donor.landmarks, np.float32)
    warp, _ = cv2.estimateAffinePartial2D(donor_points[:3], points[:3])
    if warp is None:
        return None
    h, w = masked.shape[:2]
    moved = cv2.warpAffine(bare, warp, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    eyes, nose, mouth = points[:2], points[2], points[3:].mean(0)
    eye_distance, eye_y = float(np.linalg.norm(eyes[1] - eyes[0])), float(eyes[:, 1].mean())
    top = eye_y + 0.15 * (nose[1] - eye_y)
    bottom = nose[1] + rng.uniform(0.3, 0.55) * (mouth[1] - nose[1])
    half = rng.uniform(0.45, 0.6) * eye_distance
    x = float(nose[0])
    forehead = masked[max(0, int(eye_y - 0.45 * eye_distance)):max(1, int(eye_y - 0.1 * eye_distance)),
                      max(0, int(eyes[:, 0].min())):max(1, int(eyes[:, 0].max()))]
    patch = moved[max(0, int(top)):max(1, int(bottom)), max(0, int(x - half)):max(1, int(x + half))]
    if forehead.size < 30 or patch.size < 30:
        return None
    (skin_mean, skin_std), (patch_mean, patch_std) = _lab_stats(forehead), _lab_stats(patch)
    lab = cv2.cvtColor(moved, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab = (lab - patch_mean) / patch_std * skin_std + skin_mean
    nose_image = cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    alpha = np.zeros((h, w), np.float32)
    shape = np.array([[x - 0.25 * half, top], [x + 0.25 * half, top], [x + half, bottom], [x - half, bottom]], np.int32)
    cv2.fillPoly(alpha, [shape], 1.0)
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(1.0, 0.04 * eye_distance))[..., None]
    return (masked * (1 - alpha) + nose_image * alpha).astype(np.uint8)


def usable(paths: list[Path], detector: CenterFace, desc: str):
    for path in tqdm(paths, desc=desc, unit="face"):
        try:
            image = read_image(path)
        except UnreadableImage:
            continue
        face = faces_with_landmarks(image, detector)
        if face is not None:
            yield path, image, face


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--masked", type=Path, required=True)
    parser.add_argument("--bare", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--donors", type=int, default=200, help="bare faces to take noses from")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    detector = CenterFace(threshold=0.5, scale=1.0)
    bare_paths = sorted(iter_files(args.bare, IMAGE_SUFFIXES))
    donors = []
    for path in bare_paths[:: max(1, len(bare_paths) // args.donors)]:
        found = list(usable([path], detector, "donor"))
        donors += [(image, face) for _, image, face in found]
    (args.out / INCORRECT).mkdir(parents=True, exist_ok=True)
    made = 0
    with (args.out / "manifest.csv").open("w", newline="") as table:
        writer = csv.writer(table)
        writer.writerow(["file", "source"])
        for path, image, face in usable(sorted(iter_files(args.masked, IMAGE_SUFFIXES)), detector, "noses out"):
            bare, donor = donors[rng.integers(len(donors))]
            copy = nose_out(image, face, bare, donor, rng)
            if copy is None:
                continue
            name = f"{INCORRECT}/{path.stem}-nose-out.jpg"
            write_image(args.out / name, face_crop(copy, face.box, CROP_SIZE))
            writer.writerow([name, str(path)])
            writer.writerow([str(path.absolute()), str(path)])
            made += 1
    print(f"wrote {made} faces with the mask under the nose to {args.out}, from {len(donors)} donors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
