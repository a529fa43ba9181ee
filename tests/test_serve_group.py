"""Issue 18 (16): the `serve` page on a small, crowded group photo, in headless Chromium. The photo is scaled
up to the width there is, every label stays inside it without covering another, the tiles add up to the faces
found (an `unknown` tile), and the list is coloured by state."""

from __future__ import annotations

import base64
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from maskwatch.web.serve import create_app, factory_for
from tests.browser import chromium, needs_chromium, wait_for
from tests.conftest import masked
from tests.test_serve import running

pytestmark = needs_chromium

SIZE = (400, 268)  # width, height: the size of the photo in the issue
SCREENSHOT = Path("/tmp/maskwatch-serve-group.png")
STATE_COLOURS = {"with_mask": "rgb(22, 163, 74)", "without_mask": "rgb(220, 38, 38)",
                 "mask_weared_incorrect": "rgb(240, 130, 0)", "unknown": "rgb(128, 128, 128)"}
# (kind, x, y, height): three rows of a crowd, the front one largest. "faint" wears a half-transparent mask
# (the classifier is unsure), "turned" has the head tilted far over: both are judged unknown.
PEOPLE = [("mask", 40, 20, 45), ("bare", 100, 20, 45), ("mask", 160, 20, 45), ("bare", 220, 20, 45),
          ("turned", 330, 10, 70),
          ("faint", 30, 80, 50), ("mask", 85, 80, 50), ("faint", 140, 80, 50), ("bare", 195, 80, 50),
          ("mask", 250, 80, 50), ("faint", 305, 80, 50),
          ("mask", 10, 150, 70), ("bare", 75, 150, 70), ("mask", 140, 150, 70), ("turned", 205, 150, 70),
          ("mask", 270, 150, 70), ("bare", 335, 150, 70)]


def _tilted(face: np.ndarray, degrees: float) -> np.ndarray:
    h, w = face.shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1)
    return cv2.warpAffine(face, turn, (w, h), borderMode=cv2.BORDER_REPLICATE)


@pytest.fixture(scope="module")
def group_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 400x268 JPEG of 17 people (the astronaut's head, bare, masked, faintly masked or tilted) in front of
    skimage's blurred coffee cup."""
    head = np.ascontiguousarray(data.astronaut()[30:190, 150:280])
    kinds = {"bare": head, "mask": masked(head), "faint": (0.4 * masked(head) + 0.6 * head).astype(np.uint8),
             "turned": _tilted(head, 80)}
    photo = cv2.GaussianBlur(cv2.resize(data.coffee(), SIZE), (0, 0), 6)
    for kind, x, y, height in PEOPLE:
        width = round(height * head.shape[1] / head.shape[0])
        photo[y:y + height, x:x + width] = cv2.resize(kinds[kind], (width, height), interpolation=cv2.INTER_AREA)
    path = tmp_path_factory.mktemp("group") / "group.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    return path


PAGE_STATE = """(() => {
  const rect = (node) => { const r = node.getBoundingClientRect();
                           return { x1: r.left, y1: r.top, x2: r.right, y2: r.bottom }; };
  const number = (id) => Number(document.getElementById(id).textContent);
  return {
    faces: JSON.parse(document.getElementById('stage').dataset.faces),
    image: rect(document.getElementById('still')),
    overlay: rect(document.getElementById('overlay')),
    tags: [...document.querySelectorAll('#tags .tag')].map(rect),
    tiles: { with_mask: number('with'), without_mask: number('without'), unknown: number('unknown'),
             mask_weared_incorrect: number('incorrect') },
    list: [...document.querySelectorAll('#labels li')].map(
      li => [li.dataset.state, getComputedStyle(li).borderLeftColor]),
  };
})()"""


def _overlap(a: dict, b: dict) -> float:
    across = min(a["x2"], b["x2"]) - max(a["x1"], b["x1"])
    down = min(a["y2"], b["y2"]) - max(a["y1"], b["y1"])
    return max(0.0, across) * max(0.0, down)


def test_group_photo_is_scaled_up_labelled_inside_and_counted_in_full(group_photo: Path, tmp_path: Path) -> None:
    with running(create_app(factory_for("accurate"), workers=1)) as url, chromium(f"{url}/", tmp_path) as page:
        # its script too: a file chosen before app.js listens for it is never sent (seen under load)
        wait_for(lambda: page.evaluate("document.readyState === 'complete' && !!document.getElementById('photo')"),
                 30, "the page and its script to load")
        root = page.call("DOM.getDocument")["root"]["nodeId"]
        node = page.call("DOM.querySelector", nodeId=root, selector="#photo")["nodeId"]
        page.call("DOM.setFileInputFiles", nodeId=node, files=[str(group_photo)])
        wait_for(lambda: page.evaluate("JSON.parse(document.getElementById('stage').dataset.faces).length > 0 && "
                                       "document.querySelectorAll('#tags .tag').length > 0"), 60, "labelled faces")
        shown = page.evaluate(PAGE_STATE)
        SCREENSHOT.write_bytes(base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"]))
    faces, image, tags = shown["faces"], shown["image"], shown["tags"]
    states = [face["state"] for face in faces]
    assert len(faces) >= 14 and states.count("unknown") >= 1, states  # tiles and tags of unknown faces too

    width, height = image["x2"] - image["x1"], image["y2"] - image["y1"]
    assert width >= 700, f"the {SIZE[0]} px photo is shown {width:.0f} px wide"
    assert abs(width / height - SIZE[0] / SIZE[1]) < 0.01  # aspect ratio kept
    assert shown["overlay"] == image  # boxes drawn over exactly the picture, scaled with it

    assert len(tags) == len(faces)
    for tag in tags:
        assert image["x1"] - 0.5 <= tag["x1"] and tag["x2"] <= image["x2"] + 0.5, (tag, image)
        assert image["y1"] - 0.5 <= tag["y1"] and tag["y2"] <= image["y2"] + 0.5, (tag, image)
    crossing = [(i, j) for i in range(len(tags)) for j in range(i) if _overlap(tags[i], tags[j]) > 1]
    assert not crossing, f"labels overlap: {crossing}"

    assert sum(shown["tiles"].values()) == len(faces)
    assert shown["tiles"] == {state: states.count(state) for state in STATE_COLOURS}
    assert shown["list"] == [[state, STATE_COLOURS[state]] for state in states]
