"""`maskwatch train`: the mask classifier trained on folders of labelled images (and scenes' faces)."""

from __future__ import annotations

import argparse
from pathlib import Path

from maskwatch.commands.options import needs_tensorflow, positive
from maskwatch.core.errors import InvalidInput


def _mapping(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        name, sep, target = pair.partition("=")
        if not sep or not name or not target:
            raise InvalidInput(f"--map takes NAME=CLASS, got {pair!r}")
        mapping[name] = target
    return mapping


def _groups_table(text: str) -> tuple[Path, str]:
    """CSV[:COLUMN] of --groups: the table must exist now, not after the images are decoded."""
    path, _, column = text.rpartition(":") if ":" in text and not Path(text).is_file() else (text, "", "")
    if not Path(path).is_file():
        raise argparse.ArgumentTypeError(f"no such table: {path}")
    return Path(path), column or "group"


def _image_size(text: str) -> int:
    size = int(text)
    if size < 32:
        raise argparse.ArgumentTypeError(f"must be at least 32 (MobileNetV2 halves it five times), got {text}")
    return size


def _blocks(text: str) -> int:
    blocks = int(text)
    if not 1 <= blocks <= 18:
        raise argparse.ArgumentTypeError(f"must be 1-18 (MobileNetV2 has 18 feature blocks), got {text}")
    return blocks


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train the mask classifier on a folder of labelled images, or on a site's "
                       "corrections", description="Train MobileNetV2 (ImageNet weights) on DATA_DIR/CLASS/*.jpg. "
                       "Writes model.keras, model.tflite, labels.json, report.json, curves.png and confusion.png to "
                       "--out. With --from-store EVENTS.db: retrain the shipped fast classifier's head on the faces "
                       "a site corrected (kept by [learning]), mixed with DATA_DIR as base data (default "
                       f"{DEFAULT_BASE} if present; give not_a_face crops too); writes model.tflite, labels.json and "
                       "report.json.")
    p.add_argument("data_dirs", type=Path, nargs="*", metavar="DATA_DIR",
                   help="folder with one subfolder of images per class; several folders train together (each may "
                   "hold some of the classes) and each is split on its own, so each is in every split")
    p.add_argument("--from-store", type=Path, metavar="EVENTS.db", help="learn from the corrections of this "
                   "site's event store (see docs/learning.md)")
    p.add_argument("--confirmed", action="store_true", help="with --from-store: also learn from verdicts "
                   "reviewed and left uncorrected")
    p.add_argument("--camera", action="append", default=[], metavar="NAME", help="with --from-store: learn "
                   "from this camera's faces only (repeatable), for a model tuned to it: set it as that "
                   "camera's model; default: every camera's")
    p.add_argument("--out", type=Path, required=True, help="output folder, e.g. runs/mine")
    p.add_argument("--scenes", type=Path, action="append", default=[], metavar="VOC_DIR",
                   help="also train on face crops from Pascal VOC scenes (VOC_DIR/images, VOC_DIR/annotations); "
                   "repeatable. 20%% of scenes (by file-name hash) are held out for `evaluate --scenes`")
    p.add_argument("--map", action="append", default=[], metavar="NAME=CLASS",
                   help="treat scene boxes named NAME as CLASS, e.g. --map mask_weared_incorrect=without_mask")
    p.add_argument("--skip", action="append", default=[], metavar="NAME", help="leave out scene boxes named NAME")
    p.add_argument("--epochs", type=positive(int, zero=True), default=1,
                   help="epochs of the head on the frozen base (default 1)")
    p.add_argument("--fine-tune-epochs", type=positive(int, zero=True), default=None,
                   help="epochs fine-tuning the upper blocks at a low learning rate; with --from-store, "
                   "of the head (default 6)")
    p.add_argument("--batch-size", type=positive(int), default=32)
    p.add_argument("--image-size", type=_image_size, default=224, help="square input size in pixels (default 224)")
    p.add_argument("--blocks", type=_blocks, default=18,
                   help="MobileNetV2 feature blocks kept, 1-18 (default 18, the whole network); fewer run faster: "
                   "the shipped model keeps 13 (up to stride 16) at --image-size 88")
    p.add_argument("--groups", type=_groups_table, action="append", default=[], metavar="CSV[:COLUMN]",
                   help="a table (columns file, relative to the table, and COLUMN, default 'group') naming a group "
                   "per image; a group never straddles train / val / test, e.g. "
                   "--groups mask-incorrect/manifest.csv:ffhq_id keeps each person in one split; repeatable")
    p.add_argument("--balance-sources", action="store_true", help="within each class, weigh each source (each "
                   "DATA_DIR, each --scenes folder) alike, e.g. a few real scene faces against many synthetic ones")
    p.add_argument("--seed", type=int, default=0, help="same seed, same split and same result")
    p.add_argument("--no-imagenet", action="store_true", help="start from random weights (for experiments)")


DEFAULT_BASE = Path("../shared/datasets/mask-classify")
FROM_SCRATCH_ONLY = ("scenes", "map", "skip", "groups", "balance_sources", "no_imagenet")


def _from_store(args: argparse.Namespace) -> int:
    given = [f"--{name.replace('_', '-')}" for name in FROM_SCRATCH_ONLY if getattr(args, name)]
    given += [f"--{name.replace('_', '-')}" for name, default in (("image_size", 224), ("blocks", 18))
              if getattr(args, name) != default]
    if given:
        raise InvalidInput(f"--from-store retrains the shipped fast classifier: leave out {', '.join(given)}")
    base = args.data_dirs or ([DEFAULT_BASE] if DEFAULT_BASE.is_dir() else [])
    if not base:
        raise InvalidInput("--from-store mixes the site's faces with base training data, so that the model does not "
                           "forget: give its class folders (e.g. mask-classify) as DATA_DIR")
    from maskwatch.training.from_store import EPOCHS, StoreTrainConfig, format_report, train_from_store

    epochs = EPOCHS if args.fine_tune_epochs is None else args.fine_tune_epochs
    if epochs == 0:
        raise InvalidInput("--fine-tune-epochs 0: nothing to train")
    if not args.from_store.is_file():
        raise FileNotFoundError(f"no such event store: {args.from_store}")
    from maskwatch.store import EventStore

    with EventStore.open_existing(args.from_store) as store:
        faces = store.learning_faces(args.confirmed)
    if args.camera:
        kept = sorted({row["source"] for row in faces})
        unknown = [name for name in args.camera if name not in kept]
        if unknown:
            raise InvalidInput(f"{args.from_store}: no face kept for camera {unknown[0]!r} (cameras with kept faces: "
                               f"{', '.join(kept) or 'none'})")
        faces = [row for row in faces if row["source"] in args.camera]
    needs_tensorflow(args.verbose)
    report = train_from_store(StoreTrainConfig(args.from_store, faces, args.out, base, args.confirmed, epochs,
                                               args.batch_size, args.seed, tuple(args.camera)))
    print(format_report(report))
    print(f"{report['training_seconds']:.0f} s; model in {args.out / 'model.tflite'} (watch: set the camera's "
          "model to it; a running watch reloads it)")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.from_store is not None:
        return _from_store(args)
    if args.confirmed or args.camera:
        raise InvalidInput(f"{'--confirmed' if args.confirmed else '--camera'} goes with --from-store")
    if not args.data_dirs:
        raise InvalidInput("give DATA_DIR (a folder of class folders), or --from-store EVENTS.db")
    if args.fine_tune_epochs is None:
        args.fine_tune_epochs = 6
    if args.epochs + args.fine_tune_epochs == 0:
        raise InvalidInput("--epochs and --fine-tune-epochs are both 0: nothing to train")
    needs_tensorflow(args.verbose)
    from maskwatch.training.train import TrainConfig, train

    config = TrainConfig(args.data_dirs, args.out, args.scenes, _mapping(args.map), args.skip, args.epochs,
                         args.fine_tune_epochs, args.batch_size, args.image_size, args.seed, not args.no_imagenet,
                         args.blocks, args.groups, args.balance_sources)
    report = train(config)
    print(f"test accuracy {report['test']['accuracy']:.4f} on {report['test']['n']} images; "
          f"{report['training_seconds']:.0f} s; model in {args.out}")
    return 0
