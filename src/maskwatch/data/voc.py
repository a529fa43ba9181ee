"""Pascal VOC annotations of the detection scenes, read robustly.

Scraped VOC sets carry quirks (stray text inside ``<bndbox>``, float coordinates, zero-size boxes);
this module turns them into plain integer boxes so that evaluation code never has to care, and picks a
fixed, hash-based holdout so the same scenes stay out of training on every machine and every run.
"""

from __future__ import annotations

import hashlib
import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from maskwatch.core.errors import InvalidInput
from maskwatch.io.images import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

_COORDS = ("xmin", "ymin", "xmax", "ymax")


@dataclass(frozen=True)
class Box:
    """One annotated face: its class name and (x1, y1, x2, y2) in pixels."""

    name: str
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class Scene:
    """An image and the faces annotated in it."""

    image: Path
    boxes: tuple[Box, ...]


def _parse(xml_path: Path) -> ET.Element:
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as e:
        raise InvalidInput(f"{xml_path}: cannot be parsed as XML ({e})") from None
    if root.tag != "annotation":
        raise InvalidInput(f"{xml_path}: not a Pascal VOC annotation (root element <{root.tag}>)")
    return root


def _boxes(root: ET.Element, xml_path: Path) -> list[Box]:
    boxes = []
    for obj in root.iter("object"):
        name = (obj.findtext("name") or "").strip()
        bndbox = obj.find("bndbox")
        # findtext reads each coordinate's own text only, so stray text around them does no harm
        texts = [None if bndbox is None else bndbox.findtext(k) for k in _COORDS]
        try:
            x1, y1, x2, y2 = (round(float(t)) for t in texts)
        except (TypeError, ValueError, OverflowError):
            raise InvalidInput(f"{xml_path}: object {name!r} has bad <bndbox> coordinates {texts}") from None
        if not name:
            raise InvalidInput(f"{xml_path}: object without a <name>")
        if x2 <= x1 or y2 <= y1:
            log.debug("%s: degenerate %s box %s skipped", xml_path, name, (x1, y1, x2, y2))
            continue
        boxes.append(Box(name, (x1, y1, x2, y2)))
    return boxes


def read_annotation(xml_path: Path) -> list[Box]:
    """The non-degenerate boxes of one VOC xml; ValueError if it is not a readable annotation."""
    xml_path = Path(xml_path)
    return _boxes(_parse(xml_path), xml_path)


def scan_scenes(voc_dir: Path) -> list[Scene]:
    """Pair ``annotations/NAME.xml`` with its image in ``images/``, sorted by xml name.

    The image is the one named by ``<filename>``, else any image with the xml's stem; an xml whose
    image is missing is skipped with a warning.
    """
    voc_dir = Path(voc_dir)
    images, annotations = voc_dir / "images", voc_dir / "annotations"
    missing = [f"{p.name}/" for p in (images, annotations) if not p.is_dir()]
    if missing:
        raise InvalidInput(f"{voc_dir}: not a VOC folder, missing {' and '.join(missing)}")
    by_stem: dict[str, Path] = {}
    for p in sorted(images.iterdir()):
        if p.suffix.lower() in IMAGE_SUFFIXES:
            by_stem.setdefault(p.stem, p)
    scenes = []
    for xml_path in sorted(annotations.glob("*.xml")):
        root = _parse(xml_path)
        filename = Path((root.findtext("filename") or "").strip()).name
        image = images / filename if filename and (images / filename).is_file() else None
        image = image or by_stem.get(xml_path.stem)
        if image is None:
            log.warning("%s: image %r not found in %s, skipped", xml_path.name, filename, images)
            continue
        scenes.append(Scene(image, tuple(_boxes(root, xml_path))))
    return scenes


def holdout(name: str, fraction: float = 0.2) -> bool:
    """Whether a file belongs to the fixed holdout: SHA-1 of its basename, stable across runs and machines."""
    if not 0.0 <= fraction <= 1.0:
        raise InvalidInput(f"fraction must be in [0, 1], got {fraction}")
    digest = hashlib.sha1(Path(name).name.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big") < fraction * 2**64
