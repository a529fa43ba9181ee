"""Grouping exact and near-duplicate images, so that no copy of an image lands in two splits.

Scraped datasets hold byte-identical copies and resized or re-encoded ones; a random split would score
the model on images it trained on. Exact copies share an md5; near ones share most bits of a difference
hash (dHash: the sign of horizontal gradients of a 9x8 grey thumbnail, robust to resizing and JPEG).
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence

import cv2
import numpy as np

NEAR_DUPLICATE_BITS = 6  # dHash bits (of 64) two images may differ in and still count as one image
HASH_SIZE = 128  # images are hashed at one size, whatever size the model trains at, so splits agree


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def dhash(image: np.ndarray) -> int:
    """64-bit difference hash of an RGB image."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int(np.packbits(bits).view(">u8")[0])


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> bool:
        ri, rj = self.find(i), self.find(j)
        if ri == rj:
            return False
        self.parent[max(ri, rj)] = min(ri, rj)
        return True


def group_duplicates(keys: Sequence[Hashable], hashes: Sequence[int],
                     max_bits: int = NEAR_DUPLICATE_BITS) -> tuple[np.ndarray, int, int]:
    """Group ids per item (items with equal keys, or hashes within `max_bits`, share a group), and how many
    items were folded into another's group by equal keys, then by near-equal hashes."""
    n = len(keys)
    groups = _UnionFind(n)
    first_with_key: dict[Hashable, int] = {}
    same_key = sum(groups.union(first_with_key.setdefault(key, i), i) for i, key in enumerate(keys))
    near = 0
    codes = np.array(hashes, dtype=np.uint64)
    for i in range(n - 1):
        distance = np.bitwise_count(codes[i + 1:] ^ codes[i])
        for j in np.flatnonzero(distance <= max_bits):
            near += groups.union(i, i + 1 + int(j))
    roots = np.array([groups.find(i) for i in range(n)])
    return np.unique(roots, return_inverse=True)[1], same_key, near
