"""Tests of VOC reading: the real set's quirks, image pairing, and the hash-based holdout."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pytest

from maskwatch.data.voc import Box, Scene, holdout, read_annotation, scan_scenes

MASK_DETECT = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "mask-detect"
needs_data = pytest.mark.skipif(not MASK_DETECT.is_dir(), reason=f"real data set absent: {MASK_DETECT}")


def voc_xml(filename: str, objects: str) -> str:
    return f"<annotation><folder>images</folder><filename>{filename}</filename>{objects}</annotation>"


def obj(name: str, x1: str, y1: str, x2: str, y2: str, stray: str = "") -> str:
    return (
        f"<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin>"
        f"<xmax>{x2}</xmax><ymax>{y2}</ymax>{stray}</bndbox></object>"
    )


def test_read_annotation_survives_stray_text_floats_and_degenerate_boxes(tmp_path: Path) -> None:
    xml = tmp_path / "a.xml"
    stray = "file:/Users/someone/archive/annotations/maksssksksss17.xml\n"
    xml.write_text(
        voc_xml(
            "a.jpg",
            obj("without_mask", "79", "105", "109", "142", stray=stray)
            + obj(" with_mask ", "12.0", "20.4", "40.6", "60")
            + obj("with_mask", "50", "10", "50", "30")  # zero width: skipped
            + obj("with_mask", "60", "40", "70", "30"),  # y2 < y1: skipped
        )
    )
    assert read_annotation(xml) == [
        Box("without_mask", (79, 105, 109, 142)),
        Box("with_mask", (12, 20, 41, 60)),
    ]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("<annotation><object>", "cannot be parsed"),
        ("<html></html>", "not a Pascal VOC"),
        (voc_xml("a.jpg", obj("with_mask", "1", "2", "x", "4")), "bad <bndbox>"),
        (voc_xml("a.jpg", "<object><name>with_mask</name></object>"), "bad <bndbox>"),
    ],
)
def test_read_annotation_rejects_broken_xml_clearly(tmp_path: Path, text: str, match: str) -> None:
    xml = tmp_path / "broken.xml"
    xml.write_text(text)
    with pytest.raises(ValueError, match=match) as err:
        read_annotation(xml)
    assert "broken.xml" in str(err.value)


def test_scan_scenes_pairs_images_and_skips_missing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "annotations").mkdir()
    for name in ("a.jpg", "b.PNG", "photo.jpg", "notes.txt"):
        (tmp_path / "images" / name).touch()
    box = obj("with_mask", "1", "2", "3", "4")
    (tmp_path / "annotations" / "b.xml").write_text(voc_xml("b.jpg", box))  # stale name: stem fallback
    (tmp_path / "annotations" / "a.xml").write_text(voc_xml("a.jpg", ""))
    (tmp_path / "annotations" / "c.xml").write_text(voc_xml("/elsewhere/photo.jpg", box))  # basename used
    (tmp_path / "annotations" / "d.xml").write_text(voc_xml("d.jpg", box))  # no image at all
    with caplog.at_level(logging.WARNING, logger="maskwatch.data.voc"):
        scenes = scan_scenes(tmp_path)
    images = tmp_path / "images"
    one = (Box("with_mask", (1, 2, 3, 4)),)
    assert scenes == [
        Scene(images / "a.jpg", ()),
        Scene(images / "b.PNG", one),
        Scene(images / "photo.jpg", one),
    ]
    assert "d.xml" in caplog.text


def test_scan_scenes_names_missing_subfolders(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="missing images/ and annotations/"):
        scan_scenes(tmp_path)
    (tmp_path / "images").mkdir()
    with pytest.raises(ValueError, match=r"missing annotations/$"):
        scan_scenes(tmp_path)


def test_holdout_is_deterministic_by_basename() -> None:
    names = [f"img{i}.jpg" for i in range(2000)]
    picked = [holdout(n) for n in names]
    assert picked == [holdout(n) for n in names]
    assert 0.17 < sum(picked) / len(names) < 0.23
    assert all(holdout(f"/some/dir/{n}") == p for n, p in zip(names, picked, strict=True))
    assert not any(holdout(n, 0.0) for n in names) and all(holdout(n, 1.0) for n in names)
    assert all(holdout(n, 0.3) for n, p in zip(names, picked, strict=True) if p)  # nested as fraction grows
    with pytest.raises(ValueError):
        holdout("a.jpg", 1.5)


@needs_data
def test_holdout_fraction_on_real_images() -> None:
    names = sorted(p.name for p in (MASK_DETECT / "images").iterdir())
    assert len(names) == 597
    assert 0.15 <= sum(map(holdout, names)) / len(names) <= 0.25


@needs_data
def test_real_annotations_give_all_boxes() -> None:
    counts = Counter(
        b.name for xml in (MASK_DETECT / "annotations").glob("*.xml") for b in read_annotation(xml)
    )
    assert counts == {"with_mask": 2378, "without_mask": 526, "mask_weared_incorrect": 75}
    scenes = scan_scenes(MASK_DETECT)
    assert len(scenes) == 597 and sum(len(s.boxes) for s in scenes) == 2979
