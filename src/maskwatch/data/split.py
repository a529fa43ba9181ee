"""Train / validation / test split that keeps duplicate groups whole and classes in proportion."""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def group_split(labels: np.ndarray, groups: np.ndarray, val: float = 0.15, test: float = 0.15,
                seed: int = 0, strata: Sequence[str] | None = None) -> Split:
    """Indices per split. Each group goes whole into one split; groups are dealt out per (majority) class
    in a seeded random order, so the same seed always gives the same split.

    With `strata` (one name per item, e.g. the folder it came from), groups are dealt out per class within
    each stratum, each in an order seeded by the stratum's name: every stratum is in every split, and its
    split does not change when other data is trained beside it, so runs on different data compare on one
    test set."""
    rng = np.random.default_rng(seed)
    members: dict[int, list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        members[int(group)].append(index)
    by_class: dict[tuple[str, int], list[int]] = defaultdict(list)
    for group, indices in sorted(members.items()):
        majority = Counter(int(labels[i]) for i in indices).most_common(1)[0][0]
        stratum = "" if strata is None else Counter(strata[i] for i in indices).most_common(1)[0][0]
        by_class[(stratum, majority)].append(group)
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for (stratum, label), class_groups in sorted(by_class.items()):
        own = rng if strata is None else np.random.default_rng([seed, zlib.crc32(f"{stratum}:{label}".encode())])
        order = own.permutation(len(class_groups))
        total = sum(len(members[g]) for g in class_groups)
        taken = 0
        for position in order:
            group = class_groups[position]
            part = "test" if taken < test * total else "val" if taken < (test + val) * total else "train"
            parts[part].extend(members[group])
            taken += len(members[group])
    return Split(*(np.array(sorted(parts[p]), dtype=np.int64) for p in ("train", "val", "test")))
