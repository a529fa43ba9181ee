from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from maskwatch.data.dedup import dhash, group_duplicates
from maskwatch.data.split import group_split


def test_resized_and_reencoded_copies_share_a_group():
    photo = skimage.data.astronaut()
    smaller = cv2.resize(photo, (200, 200), interpolation=cv2.INTER_AREA)
    _, jpeg = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 40])
    recoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    others = [skimage.data.chelsea(), skimage.data.coffee(), skimage.data.rocket()]
    images = [photo, smaller, recoded, *others]
    groups, same_key, near = group_duplicates([f"file{i}" for i in range(len(images))], [dhash(i) for i in images])
    assert groups[0] == groups[1] == groups[2]
    assert len(set(groups[3:])) == 3 and groups[0] not in groups[3:]
    assert (same_key, near) == (0, 2)


def test_equal_keys_are_grouped_even_when_images_differ():
    images = [skimage.data.chelsea(), skimage.data.coffee(), skimage.data.rocket()]
    groups, same_key, near = group_duplicates(["same", "same", "other"], [dhash(i) for i in images])
    assert groups[0] == groups[1] != groups[2]
    assert (same_key, near) == (1, 0)


def test_split_keeps_groups_whole_is_stratified_and_seeded():
    rng = np.random.default_rng(1)
    labels = np.array([0] * 600 + [1] * 400)
    groups = np.concatenate([rng.integers(0, 150, 600), rng.integers(150, 260, 400)])
    split = group_split(labels, groups, seed=3)
    parts = [set(groups[p]) for p in (split.train, split.val, split.test)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert sorted(np.concatenate([split.train, split.val, split.test]).tolist()) == list(range(1000))
    for indices in (split.val, split.test):
        assert 0.10 < len(indices) / 1000 < 0.21
        assert 0.5 < np.mean(labels[indices] == 0) < 0.7
    again = group_split(labels, groups, seed=3)
    assert np.array_equal(split.test, again.test)
    assert not np.array_equal(split.test, group_split(labels, groups, seed=4).test)


def test_a_groups_table_keeps_each_named_group_in_one_split(tmp_path: Path) -> None:
    from maskwatch.data.dataset import DatasetError, Sample, named_groups, read_group_tables
    from maskwatch.data.dedup import group_duplicates
    from maskwatch.data.split import group_split

    data = tmp_path / "data"
    (data / "a").mkdir(parents=True)
    (data / "b").mkdir()
    samples, rows = [], ["file,person"]
    for i in range(40):
        label = "a" if i % 2 else "b"
        path = data / label / f"{i}.jpg"
        path.write_bytes(b"")
        samples.append(Sample(path, label))
        rows.append(f"{label}/{i}.jpg,{i // 4}")  # persons of 4 pictures, 2 in each class
    (data / "people.csv").write_text("\n".join(rows))
    keys, named = named_groups(samples, [f"md5-{i}" for i in range(40)],
                               read_group_tables([(data / "people.csv", "person")]))
    assert named == 40
    groups = group_duplicates(keys, [i * 0xFFFF for i in range(40)], max_bits=0)[0]
    split = group_split(np.array([i % 2 for i in range(40)]), groups, seed=0)
    where = {index: part for part, indices in (("train", split.train), ("val", split.val), ("test", split.test))
             for index in indices}
    for person in range(10):
        assert len({where[i] for i in range(4 * person, 4 * person + 4)}) == 1
    with pytest.raises(DatasetError, match="no column ffhq_id"):
        read_group_tables([(data / "people.csv", "ffhq_id")])


def test_an_image_named_by_two_tables_joins_both_groups(tmp_path: Path) -> None:
    from maskwatch.data.dataset import Sample, named_groups, read_group_tables

    for name in ("orig.jpg", "copy.jpg", "twin.jpg", "other.jpg"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "people.csv").write_text("file,person\norig.jpg,7\ntwin.jpg,7\nother.jpg,8\n")
    (tmp_path / "synth.csv").write_text(f"file,source\ncopy.jpg,{tmp_path / 'orig.jpg'}\n"
                                        f"{tmp_path / 'orig.jpg'},{tmp_path / 'orig.jpg'}\n")
    samples = [Sample(tmp_path / n, "a") for n in ("orig.jpg", "copy.jpg", "twin.jpg", "other.jpg")]
    tables = [(tmp_path / "synth.csv", "source"), (tmp_path / "people.csv", "person")]
    keys, named = named_groups(samples, ["k0", "k1", "k2", "k3"], read_group_tables(tables))
    assert named == 4 and keys[0] == keys[1] == keys[2] != keys[3]
