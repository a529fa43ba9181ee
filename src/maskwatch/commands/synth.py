"""`maskwatch synth`: masks drawn onto bare faces, worn right and wrong, to train a third class."""

from __future__ import annotations

import argparse
from pathlib import Path

from maskwatch.core.classes import INCORRECT, WITH_MASK
from maskwatch.training import synth


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("synth", help="draw masks worn right and wrong onto bare faces, for training a third class",
                       description=synth.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sources", type=Path, nargs="+", metavar="FACES_DIR", help="folders of photos of bare faces")
    p.add_argument("--out", type=Path, required=True, help="writes OUT/with_mask, OUT/mask_weared_incorrect and "
                   "OUT/manifest.csv")
    p.add_argument("--per-face", type=int, default=1, help="masks worn right per face, and as many worn wrong")
    p.add_argument("--recolour", action="store_true", help="instead: the sources are class folders of faces "
                   "with a light-blue surgical mask (such as mask-incorrect/*); write a copy of each with the mask "
                   "in another colour and texture, into OUT/<folder name>/")
    p.add_argument("--seed", type=int, default=0)
    return p


def run(args: argparse.Namespace) -> int:
    missing = [str(s) for s in args.sources if not s.is_dir()]
    if missing:
        raise NotADirectoryError(f"not a folder: {', '.join(missing)}")
    if args.recolour:
        counts = synth.recolour_folders(args.sources, args.out, args.seed)
        print(f"wrote {counts['recoloured']} recoloured copies to {args.out}; no blue mask found in "
              f"{counts['no mask found']}, {counts['unreadable']} unreadable")
        return 0
    counts = synth.synthesise(args.sources, args.out, args.per_face, args.seed)
    print(f"wrote {counts[WITH_MASK]} faces with a mask worn right and {counts[INCORRECT]} worn wrong to "
          f"{args.out}; {counts['no usable face']} photos had no face big and frontal enough, "
          f"{counts['unreadable']} were unreadable")
    return 0
