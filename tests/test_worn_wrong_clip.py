"""A mask worn wrong, end to end in the product: a scripted clip of real face crops of mask-real3 (a person
with the mask worn right, then under the nose), watched with `--model incorrect` and an alert rule on
`non_compliant`. The person's change is a mask_off to mask_weared_incorrect, the alert fires on it, and the
summaries (`maskwatch events --summary`, the page's /api/today) count the person as worn wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from maskwatch.core.classes import INCORRECT, WITH_MASK
from maskwatch.store import EventStore
from maskwatch.vision.pipeline import MaskDetector
from tests.clipmaker import Script, _along, pick_crops, render
from tests.conftest import SHARED, needs_shared
from tests.services import Watch, free_port, wait_until

REAL = SHARED / "mask-real3"
WORN_RIGHT_FRAMES, WORN_WRONG_FRAMES, GONE_FRAMES = 50, 125, 40  # at 25 fps: 2 s, 5 s, then 1.6 s of nobody


def _photo_view(folder: Path) -> Path:
    """mask-real3's head-and-shoulder photos (the yy collection: faces large enough for a clip), by class."""
    for label in (WITH_MASK, INCORRECT):
        (folder / label).mkdir(parents=True)
        for path in sorted((REAL / label).glob("yy_*.jpg")):
            (folder / label / path.name).symlink_to(path)
    return folder


def _stored(db: Path, *extra: str) -> str:
    result = subprocess.run([sys.executable, "-m", "maskwatch", "events", str(db), *extra], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _passes(db: Path) -> int:
    """The person_left events recorded so far, read in this process: polling `maskwatch events` (a Python
    process each time, 1.4 s of CPU) took the CPU the watch needed, and a pass's first frames were dropped."""
    if not db.exists():
        return 0
    with EventStore.open_existing(db) as store:
        return sum(event.kind == "person_left" for event in store.events())


@needs_shared
@pytest.mark.skipif(not REAL.is_dir(), reason="needs ../shared/datasets/mask-real3")
def test_a_person_worn_wrong_raises_mask_off_an_alert_and_is_counted(tmp_path: Path) -> None:
    detector = MaskDetector("accurate", "incorrect")
    view = _photo_view(tmp_path / "real")
    [worn_right] = pick_crops(view, WITH_MASK, 1, detector)
    [worn_wrong] = pick_crops(view, INCORRECT, 1, detector)

    def place(i: int) -> list:
        if i >= WORN_RIGHT_FRAMES + WORN_WRONG_FRAMES:
            return []
        crop = worn_right if i < WORN_RIGHT_FRAMES else worn_wrong
        return [("person", crop, *_along((240, 150), (280, 150), i / (WORN_RIGHT_FRAMES + WORN_WRONG_FRAMES)))]

    length = WORN_RIGHT_FRAMES + WORN_WRONG_FRAMES + GONE_FRAMES
    render(Script("worn_wrong", length, place, {"person": WORN_RIGHT_FRAMES}, 1), tmp_path / "door.mp4")
    port = free_port()
    (tmp_path / "site.toml").write_text(
        f'store = "events.db"\nmodel = "incorrect"\n[http]\nport = {port}\n'
        '[[camera]]\nname = "door"\nsource = "door.mp4"\nloop = true\npreset = "accurate"\n'
        '[[alert]]\nstate = "non_compliant"\nafter_s = 1\ncooldown_s = 60\n')
    watch = Watch(tmp_path / "site.toml", port=port)
    db = tmp_path / "events.db"

    def events() -> list[dict]:
        return [json.loads(line) for line in _stored(db, "--json").splitlines()] if db.exists() else []

    try:
        watch.wait_running()
        # the second pass: the first may start while the worker still loads its models (the file plays on)
        wait_until(lambda: _passes(db) >= 2, 180, "two passes of the person")
        today = watch.get("/api/today").json()
    finally:
        assert watch.stop() == 0
    recorded = events()
    persons = list(dict.fromkeys(e["person"] for e in recorded))
    second = [(e["kind"], e["previous_state"], e["state"]) for e in recorded if e["person"] == persons[1]]
    assert second[0] == ("person_appeared", None, WITH_MASK), second
    assert ("mask_off", WITH_MASK, INCORRECT) in second, second
    assert INCORRECT in [state for kind, _, state in second if kind == "alert"], second
    summary = json.loads(_stored(db, "--summary", "--json"))
    assert summary["total"]["people_by_last_state"][INCORRECT] >= 1, summary
    assert summary["total"]["people_ever_non_compliant"] >= 1, summary
    assert "last_mask_weared_incorrect" in _stored(db, "--summary")  # the table's column of its own
    assert today["today"]["people_by_last_state"][INCORRECT] >= 1, today  # the site page's tiles
