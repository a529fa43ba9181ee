"""Training data: folder-per-class images and face crops cut from annotated scenes, decoded once.

Every image is decoded and resized a single time into one uint8 array held in memory; epochs then read
that array. Each item also gets the keys that duplicate grouping needs (md5 of the file, or the scene it
was cut from, and a perceptual hash).
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from maskwatch.core.errors import InvalidInput
from maskwatch.data.dedup import HASH_SIZE, dhash, md5
from maskwatch.data.voc import holdout, scan_scenes
from maskwatch.io.images import IMAGE_SUFFIXES, UnreadableImage, decode_image, iter_files
from maskwatch.io.progress import progress as progress_bar
from maskwatch.vision.crops import IMAGE_SIZE, face_crop, resize

log = logging.getLogger(__name__)


class DatasetError(InvalidInput):
    """The data cannot be trained on (too few classes, an empty class, an unknown label...)."""


@dataclass(frozen=True)
class Sample:
    """One training item: a whole image, or the face `box` of a scene photo."""

    path: Path
    label: str
    box: tuple[int, int, int, int] | None = None


@dataclass
class LoadedData:
    images: np.ndarray  # N x size x size x 3, uint8 RGB
    labels: np.ndarray  # N class indices
    classes: list[str]
    samples: list[Sample]
    keys: list[str]  # md5 of a whole image's file, or the scene's path: equal keys are one group
    hashes: list[int]
    skipped: list[str] = field(default_factory=list)


def folder_classes(data_dir: Path, minimum: int = 2) -> list[str]:
    """Class names: the subfolders of `data_dir` (sorted). Fewer than `minimum` is an error (one folder of
    several trained together may hold fewer classes than the model learns)."""
    if not data_dir.is_dir():
        raise DatasetError(f"{data_dir}: not a folder")
    classes = sorted(p.name for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < minimum:
        raise DatasetError(f"{data_dir}: needs one subfolder per class and at least {minimum} "
                           f"class{'es' if minimum > 1 else ''}, found {classes}")
    return classes


def folder_samples(data_dir: Path, classes: Sequence[str]) -> list[Sample]:
    """Every image file below each class folder; an empty class is an error before any work starts."""
    samples = []
    for label in classes:
        files = list(iter_files(data_dir / label, IMAGE_SUFFIXES))
        if not files:
            raise DatasetError(f"{data_dir / label}: class '{label}' has no images")
        samples += [Sample(path, label) for path in files]
    return samples


def scene_samples(voc_dir: Path, classes: Sequence[str], mapping: Mapping[str, str] | None = None,
                  skip: Sequence[str] = (), include_holdout: bool = False) -> tuple[list[Sample], Counter]:
    """Face boxes of Pascal VOC scenes as samples, labelled by box name (after `mapping`).

    Scenes that `voc.holdout` reserves for end-to-end evaluation are left out unless `include_holdout`.
    A box name that is neither a class, mapped, nor skipped is an error: silently dropping it would hide
    a mislabelled dataset. Returns the samples and a count of what was left out and why."""
    mapping = dict(mapping or {})
    samples, left_out = [], Counter()
    for scene in scan_scenes(voc_dir):
        if holdout(scene.image.name) and not include_holdout:
            left_out["held-out scenes"] += 1
            continue
        for box in scene.boxes:
            label = mapping.get(box.name, box.name)
            if box.name in skip:
                left_out[f"skipped '{box.name}' boxes"] += 1
            elif label in classes:
                samples.append(Sample(scene.image, label, tuple(box.box)))
            else:
                raise DatasetError(f"{voc_dir}: box label '{box.name}' is not a class {list(classes)}; "
                                   f"use --map {box.name}=CLASS or --skip {box.name}")
    return samples, left_out


def _cut(image: np.ndarray, box: tuple[int, int, int, int] | None, size: int) -> np.ndarray:
    """The whole image, or the face crop of `box`, resized to size x size."""
    return resize(image, size) if box is None else face_crop(image, box, size)


def load_samples(samples: Sequence[Sample], classes: Sequence[str], size: int = IMAGE_SIZE,
                 progress: bool = True, every_class: bool = True) -> LoadedData:
    """Decode each file once and cut or resize every sample to size x size; unreadable files are skipped.
    A class left without images is an error when training (`every_class`), not when scoring a model on a
    set that lacks one of its classes (a three-class model on a two-class set)."""
    images = np.zeros((len(samples), size, size, 3), np.uint8)
    kept, keys, hashes, skipped = [], [], [], []
    index = {label: i for i, label in enumerate(classes)}
    decoded: tuple[Path, np.ndarray | None, str] | None = None
    for sample in progress_bar(samples, desc="Loading images", unit="img") if progress else samples:
        if decoded is None or decoded[0] != sample.path:
            try:
                data = sample.path.read_bytes()
                decoded = (sample.path, decode_image(data, str(sample.path)), md5(data))
            except (UnreadableImage, OSError) as error:
                decoded = (sample.path, None, "")
                skipped.append(f"{sample.path}: {error}" if isinstance(error, OSError) else str(error))
        image = decoded[1]
        if image is None:
            continue
        images[len(kept)] = _cut(image, sample.box, size)
        kept.append(sample)
        keys.append(decoded[2] if sample.box is None else str(sample.path))
        hashes.append(dhash(images[len(kept) - 1] if size == HASH_SIZE else _cut(image, sample.box, HASH_SIZE)))
    if skipped:
        log.warning("skipped %d unreadable file(s), e.g. %s", len(skipped), "; ".join(skipped[:3]))
    labels = np.array([index[s.label] for s in kept], np.int64)
    missing = [c for i, c in enumerate(classes) if not np.any(labels == i)]
    if missing and every_class:
        raise DatasetError(f"no readable images left for class(es) {missing}")
    return LoadedData(images[: len(kept)], labels, list(classes), kept, keys, hashes, skipped)


def read_group_tables(tables: Sequence[tuple[Path, str]]) -> dict[Path, list[str]]:
    """The group names CSV tables give each listed image (columns `file`, relative to the table's folder,
    and `column`), read before any image is decoded: a table that names a file that is not there (a class
    folder missing, files moved) is an error, since the split it asks for could not be kept."""
    names: dict[Path, list[str]] = {}
    for table, column in tables:
        absent = []
        try:
            with table.open(newline="", encoding="utf-8") as file:
                reader = csv.DictReader(file)
                missing = {"file", column} - set(reader.fieldnames or ())
                if missing:
                    raise DatasetError(f"{table}: no column {' or '.join(sorted(missing))} "
                                       f"(has: {', '.join(reader.fieldnames or [])})")
                for row in reader:
                    path = (table.parent / row["file"]).resolve()
                    if not path.is_file():
                        absent.append(row["file"])
                    names.setdefault(path, []).append(f"{column}={row[column]}")
        except OSError as error:
            raise DatasetError(f"{table}: cannot read the groups table ({error.strerror})") from None
        if absent:
            raise DatasetError(f"{table}: names {len(absent)} file(s) that do not exist, e.g. {absent[0]}")
    return names


def named_groups(samples: Sequence[Sample], keys: Sequence[str], names: Mapping[Path, list[str]]
                 ) -> tuple[list[str], int]:
    """`keys` with the group names of `read_group_tables` for each listed image, so that pictures of one
    person, which no hash can tell are related (the same face with the mask moved), stay in one split; and
    how many images the tables named. An image named by several tables joins all their groups (a synthetic
    copy named by its source, the source by its person id: copy, source and person stay together).
    Symlinks are followed, so a training folder of links into a dataset matches that dataset's manifest."""
    parent: dict[str, str] = {}

    def root(name: str) -> str:
        while parent.setdefault(name, name) != name:
            name = parent[name] = parent[parent[name]]
        return name

    for listed in names.values():  # names given to one image are one group
        for other in listed[1:]:
            parent[root(other)] = root(listed[0])
    out, matched = list(keys), 0
    for index, sample in enumerate(samples):
        listed = names.get(sample.path.resolve()) if sample.box is None else None
        if listed:
            out[index], matched = root(listed[0]), matched + 1
    return out, matched
