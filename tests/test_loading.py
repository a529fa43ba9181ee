"""Whatever a folder of scraped images holds, loading either works or says clearly why not."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from maskwatch.data.dataset import DatasetError, folder_classes, folder_samples, load_samples, scene_samples
from maskwatch.io.images import UnreadableImage, read_image


@pytest.fixture
def odd_images(tmp_path, astronaut_face):
    """One folder class of images in every awkward form a scraped set has, plus broken files."""
    folder = tmp_path / "data" / "with_mask"
    folder.mkdir(parents=True)
    bgr = cv2.cvtColor(astronaut_face, cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(folder / "grey.png"), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(folder / "rgba.png"), cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA))
    cv2.imwrite(str(folder / "deep.png"), bgr.astype(np.uint16) * 257)
    cv2.imwrite(str(folder / "plain.jpg"), bgr)
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.jpg").write_text("a text file with an image suffix")
    (folder / "readme.txt").write_text("ignored: not an image suffix")
    other = tmp_path / "data" / "without_mask"
    other.mkdir()
    cv2.imwrite(str(other / "a.jpg"), bgr)
    return tmp_path / "data"


@pytest.mark.parametrize("name", ["grey.png", "rgba.png", "deep.png", "plain.jpg"])
def test_any_image_form_becomes_rgb_uint8(odd_images, astronaut_face, name):
    image = read_image(odd_images / "with_mask" / name)
    assert image.dtype == np.uint8 and image.shape == (*astronaut_face.shape[:2], 3)
    if name != "grey.png":
        assert np.abs(image.astype(int) - astronaut_face).mean() < 3


@pytest.mark.parametrize(("name", "reason"), [("corrupt.jpg", "not a readable image"),
                                              ("empty.png", "empty file"), ("notes.jpg", "not a readable image"),
                                              ("missing.jpg", "No such file")])
def test_unreadable_files_say_why(odd_images, name, reason):
    with pytest.raises(UnreadableImage, match=reason):
        read_image(odd_images / "with_mask" / name)


def test_broken_files_are_skipped_and_counted(odd_images):
    classes = folder_classes(odd_images)
    data = load_samples(folder_samples(odd_images, classes), classes, size=64, progress=False)
    assert len(data.labels) == 5 and data.images.shape == (5, 64, 64, 3)
    assert sorted(line.split(":")[0].rsplit("/", 1)[1] for line in data.skipped) == [
        "corrupt.jpg", "empty.png", "notes.jpg"]


def test_fewer_than_two_classes_is_an_error(tmp_path):
    (tmp_path / "with_mask").mkdir()
    with pytest.raises(DatasetError, match="at least 2 classes"):
        folder_classes(tmp_path)


def test_empty_class_is_an_error_before_any_work(odd_images):
    (odd_images / "mask_weared_incorrect").mkdir()
    with pytest.raises(DatasetError, match="'mask_weared_incorrect' has no images"):
        folder_samples(odd_images, folder_classes(odd_images))


def test_class_with_only_broken_files_is_an_error(tmp_path):
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
    cv2.imwrite(str(tmp_path / "a" / "ok.png"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "b" / "bad.jpg").write_bytes(b"junk")
    classes = folder_classes(tmp_path)
    with pytest.raises(DatasetError, match=r"no readable images left for class\(es\) \['b'\]"):
        load_samples(folder_samples(tmp_path, classes), classes, size=32, progress=False)


def test_scene_labels_must_be_mapped_or_skipped(tmp_path, astronaut_face):
    (tmp_path / "images").mkdir()
    (tmp_path / "annotations").mkdir()
    classes = ["with_mask", "without_mask"]
    for i in range(12):  # enough scenes that some survive the 20% hold-out
        cv2.imwrite(str(tmp_path / "images" / f"s{i}.jpg"), astronaut_face)
        (tmp_path / "annotations" / f"s{i}.xml").write_text(
            f"<annotation><filename>s{i}.jpg</filename>"
            "<object><name>mask_weared_incorrect</name><bndbox><xmin>10</xmin><ymin>10</ymin><xmax>60</xmax>"
            "<ymax>70</ymax></bndbox></object></annotation>")
    with pytest.raises(DatasetError, match="--map mask_weared_incorrect=CLASS"):
        scene_samples(tmp_path, classes)
    mapped, _ = scene_samples(tmp_path, classes, {"mask_weared_incorrect": "without_mask"})
    skipped, left_out = scene_samples(tmp_path, classes, skip=["mask_weared_incorrect"])
    assert mapped and all(s.label == "without_mask" and s.box == (10, 10, 60, 70) for s in mapped)
    assert not skipped and left_out["skipped 'mask_weared_incorrect' boxes"] == len(mapped)
    assert len(mapped) + left_out["held-out scenes"] == 12
