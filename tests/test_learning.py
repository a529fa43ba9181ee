"""Learning from a site's corrections (issue 31): the faces [learning] keeps (unblurred, private, with their
events' retention and their own, all gone when learning is off), `train --from-store` on a tiny store
(a few steps) with its refusals, and a running `watch` that serves kept faces only with a token, takes
corrections by its API, names each camera's model and reloads a changed model file without a restart."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from maskwatch.commands import main
from maskwatch.core.events import Event
from maskwatch.store import EventStore
from maskwatch.vision.classifier import default_model_path
from tests.conftest import masked
from tests.services import Watch, door_clip, free_port, wait_until

T0 = datetime.now().astimezone().replace(microsecond=0)


def face_event(person: int, kind: str, face: np.ndarray, state: str = "unknown", samples: int = 0,
               at: datetime = T0, source: str = "door") -> Event:
    jitter = np.random.default_rng(person * 100 + samples)
    sampled = tuple(np.clip(face * jitter.uniform(0.8, 1.2), 0, 255).astype(np.uint8) for _ in range(samples))
    return Event(kind, person, source, person, float(person), at.isoformat(timespec="milliseconds"), state,
                 (10.0, 10.0, 90.0, 90.0), 0.9, face_image=face, face_samples=sampled)


def kept(face: np.ndarray) -> np.ndarray:
    """A face as a kept crop is cut (the face box and 30% around it): the test faces padded to that."""
    pad = round(face.shape[0] * 0.3 / 1.6)
    return np.pad(face, ((pad, pad), (pad, pad), (0, 0)), mode="edge")


def test_kept_faces_are_private_unblurred_and_go_with_their_events(tmp_path: Path, astronaut_face) -> None:
    with EventStore(tmp_path / "events.db", blur_snapshots=True) as off:  # learning off: nothing kept
        off.add(face_event(1, "person_appeared", astronaut_face, samples=3))
    assert not (tmp_path / "events.learning").exists()
    with EventStore(tmp_path / "events.db", blur_snapshots=True, learning=True) as store:
        first = store.add(face_event(2, "person_appeared", astronaut_face, samples=3))
        store.add(face_event(2, "person_left", astronaut_face, samples=2))
        old = store.add(face_event(3, "person_appeared", astronaut_face, at=T0 - timedelta(days=40)))
        faces = store.kept_faces([first.id, old.id])
    folder = tmp_path / "events.learning"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = sorted(folder.iterdir())
    assert len(files) == 1 + 3 + 2 + 1  # each event's own face (one file for the same array) and the samples
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    from maskwatch.io.images import read_image
    snapshot = read_image(first.snapshot)
    unblurred = read_image(faces[first.id])
    assert np.std(np.diff(unblurred.astype(float), axis=1)) > 3 * np.std(np.diff(snapshot.astype(float), axis=1))
    with EventStore(tmp_path / "events.db", readonly=False, create=False) as store:
        store.delete_older_than(T0 - timedelta(days=30))  # the events' retention takes their faces
        assert not faces[old.id].exists() and faces[first.id].exists()
        assert store.forget_crops(T0 + timedelta(seconds=1)) == 6  # learning's own retention: all are older
        (folder / "stray.jpg").write_bytes(b"\xff\xd8")  # a crash between a file and its row
        assert store.forget_crops(None) == 1  # learning switched off: not one face is left
    assert list(folder.iterdir()) == []


def test_watch_with_learning_off_deletes_every_kept_face(tmp_path: Path, astronaut_face, monkeypatch) -> None:
    from maskwatch.commands.watch import _retain_faces
    from maskwatch.monitor.config import load

    with EventStore(tmp_path / "site.db", learning=True) as store:
        store.add(face_event(1, "person_appeared", astronaut_face, samples=2))
    (tmp_path / "site.toml").write_text('store = "site.db"\n[[camera]]\nname = "door"\nsource = "0"\n')
    _retain_faces(load(tmp_path / "site.toml"))
    assert list((tmp_path / "site.learning").iterdir()) == []
    with EventStore.open_existing(tmp_path / "site.db") as store:
        assert store.kept_faces([1]) == {} and len(store.events()) == 1  # the event itself stays


def site_store(path: Path, face: np.ndarray, bare_persons: int = 3, masked_persons: int = 3) -> None:
    """A site's store with kept faces: bare persons the model called masked, corrected; masked persons
    judged right and confirmed (reviewed)."""
    with EventStore(path, learning=True) as store:
        person = 0
        for count, image, verdict in ((bare_persons, face, "with_mask"), (masked_persons, masked(face), "with_mask")):
            for _ in range(count):
                person += 1
                event = store.add(face_event(person, "person_appeared", kept(image), verdict, samples=3))
                if image is face:  # the first as worn wrong: a class the fast model learns as without_mask
                    store.correct(event.id, "mask_weared_incorrect" if person == 1 else "without_mask", "alice",
                                  person=True)
                else:
                    store.review(event.id, "alice")


def train_from_store(store: Path, out: Path, base: Path | list[Path], *extra: str) -> int:
    bases = base if isinstance(base, list) else [base]
    return main(["-q", "train", "--from-store", str(store), *map(str, bases), "--out", str(out),
                 "--fine-tune-epochs", "1", "--batch-size", "8", *extra])


def not_faces(root: Path) -> Path:
    """A base folder of 20 not_a_face crops: smooth noise, as walls and floors look to the classifier."""
    import cv2

    (root / "not_a_face").mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(20):
        texture = cv2.resize(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8), (96, 96))
        cv2.imwrite(str(root / "not_a_face" / f"{i:02d}.jpg"), texture)
    return root


def test_train_from_store_learns_the_corrections_and_reports_before_and_after(tmp_path: Path, astronaut_face,
                                                                                tiny_dataset: Path, capsys) -> None:
    pytest.importorskip("tensorflow")
    site_store(tmp_path / "site.db", astronaut_face)
    assert train_from_store(tmp_path / "site.db", tmp_path / "run", [tiny_dataset, not_faces(tmp_path / "nf")],
                            "--confirmed") == 0
    printed = capsys.readouterr().out
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    labels = json.loads((tmp_path / "run" / "labels.json").read_text())
    assert labels["labels"] == ["not_a_face", "with_mask", "without_mask"] and labels["trained"] == report["trained"]
    site = report["site"]
    assert site["faces"] == 6 * 4 and site["persons"] == 6  # each event's face and its 3 samples
    held = set(site["held_back"]["persons"])
    assert len(held) == 2 and site["trained_on"]["faces"] + site["held_back"]["faces"] == 24  # whole persons
    assert site["trained_on"]["per_class"].keys() <= {"with_mask", "without_mask"}  # worn wrong learnt as bare
    for part in ("held_back", "base_test", "not_faces"):
        assert report[part]["shipped"]["n"] == report[part]["tuned"]["n"] > 0
        assert 0 <= report[part]["tuned"]["accuracy"] <= 1
    assert report["base_check"]["passed"] == (report["base_check"]["drop"] <= 0.003)
    assert report["reject_check"]["passed"] == (report["reject_check"]["drop"] <= 0.05)
    assert "site faces held back (8): shipped" in printed and "base check:" in printed
    assert "base not_a_face crops (" in printed and "reject check: " in printed
    from maskwatch.vision.classifier import MaskClassifier
    assert MaskClassifier(tmp_path / "run" / "model.tflite").labels == labels["labels"]  # detect and watch load it


def test_train_from_store_for_one_camera_learns_its_faces_only(tmp_path: Path, astronaut_face, tiny_dataset: Path,
                                                                 capsys) -> None:
    pytest.importorskip("tensorflow")
    site_store(tmp_path / "site.db", astronaut_face)
    with EventStore(tmp_path / "site.db", learning=True) as store:  # another camera's corrected person
        event = store.add(face_event(9, "person_appeared", kept(astronaut_face), "with_mask", 3, source="hall"))
        store.correct(event.id, "without_mask", "alice", person=True)
    assert train_from_store(tmp_path / "site.db", tmp_path / "run", tiny_dataset, "--confirmed", "--camera",
                            "door") == 0
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["cameras"] == ["door"] and report["site"]["faces"] == 24 and report["site"]["persons"] == 6
    assert capsys.readouterr().out.startswith("learnt from camera door only\n")
    assert train_from_store(tmp_path / "site.db", tmp_path / "all", tiny_dataset, "--confirmed") == 0
    assert json.loads((tmp_path / "all" / "report.json").read_text())["site"]["persons"] == 7


@pytest.mark.parametrize("option", [["--confirmed"], ["--camera", "door"]])
def test_the_store_options_go_with_from_store(tmp_path: Path, tiny_dataset: Path, option: list[str], capsys) -> None:
    assert main(["-q", "train", str(tiny_dataset), "--out", str(tmp_path / "run"), *option]) == 2
    assert capsys.readouterr().err.strip() == f"maskwatch train: error: {option[0]} goes with --from-store"


def test_each_camera_weighs_the_same_however_long_its_people_were_seen() -> None:
    from maskwatch.training.from_store import camera_weights

    weights = camera_weights(["door/run1/p1"] * 30 + ["door/run2/p7"] * 10 + ["hall/run1/p2"] * 4, total=80.0)
    assert weights.sum() == pytest.approx(80.0)
    assert weights[:40].sum() == pytest.approx(weights[40:].sum()) == pytest.approx(40.0)


@pytest.mark.parametrize(("setup", "args", "said"), [
    ("few", ["--confirmed"], "at least 10 are needed"),
    ("one class", [], "every corrected face is without_mask"),
    ("plenty", ["--image-size", "96"], "leave out --image-size"),
    ("none", [], "no such event store"),
    ("not-faces alone", ["--confirmed"], "no face photos in the base data"),
    ("plenty", ["--camera", "gate"], "no face kept for camera 'gate' (cameras with kept faces: door)"),
])
def test_train_from_store_refuses_in_one_line(tmp_path: Path, astronaut_face, tiny_dataset: Path, setup: str,
                                             args: list[str], said: str, capsys) -> None:
    pytest.importorskip("tensorflow")
    if setup == "few":
        site_store(tmp_path / "site.db", astronaut_face, bare_persons=1, masked_persons=1)
    elif setup in ("one class", "plenty"):
        site_store(tmp_path / "site.db", astronaut_face)
    elif setup == "not-faces alone":
        site_store(tmp_path / "site.db", astronaut_face)
        tiny_dataset = not_faces(tmp_path / "nf")
    assert train_from_store(tmp_path / "site.db", tmp_path / "run", tiny_dataset, *args) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("maskwatch train: error: ") and said in line
    assert not (tmp_path / "run" / "model.tflite").exists()


def test_watch_serves_kept_faces_with_a_token_takes_corrections_and_reloads_a_changed_model(tmp_path: Path) -> None:
    door_clip(tmp_path / "door.mp4")
    model = tmp_path / "models" / "site.tflite"
    model.parent.mkdir()
    shutil.copy(default_model_path("mask_classifier_fast.tflite"), model)
    shutil.copy(default_model_path("mask_classifier_fast.labels.json"), model.with_suffix(".labels.json"))
    port = free_port()
    (tmp_path / "site.toml").write_text(f"""store = "events.db"
[http]
port = {port}
users_env = "SITE_USERS"
[learning]
enabled = true
[[camera]]
name = "door"
source = "door.mp4"
loop = true
model = "models/site.tflite"
""")
    site = Watch(tmp_path / "site.toml", {"SITE_USERS": "alice=alice-token-1234"}, port)
    try:
        site.wait_running()
        first = wait_until(lambda: site.cameras()["door"]["trained"], 60, "the camera's model named")
        assert site.cameras()["door"]["model"] == str(model)
        event = wait_until(lambda: next((e for e in site.get("/api/review?kind=person_appeared").json()["events"]
                                         if e["face_url"]), None), 90, "an event with a kept face")
        assert site.get(event["face_url"]).status_code == 403  # loopback, but no token: not served
        alice = {"Authorization": "Bearer alice-token-1234"}
        served = site.http.get(event["face_url"], headers=alice)
        assert served.status_code == 200 and served.content[:2] == b"\xff\xd8"
        correction = f"/api/events/{event['id']}/correction"
        assert site.http.post(correction, content="state=with_mask",
                              headers={**alice, "Content-Type": "application/x-www-form-urlencoded"}).status_code == 415
        assert site.http.post(correction, json={"state": "masked"}, headers=alice).status_code == 422
        assert site.http.post("/api/events/999999/correction", json={"state": "with_mask"},
                              headers=alice).status_code == 404
        answer = site.http.post(correction, json={"state": "with_mask", "person": True}, headers=alice).json()
        assert event["id"] in answer["ids"] and answer["correction"]["corrector"] == "alice"
        shown = site.get(f"/api/events/{event['id']}").json()
        assert all(step["correction"]["state"] == "with_mask" for step in shown["timeline"])
        counts = site.get("/api/review").json()["corrections"]
        assert counts and all(c["camera"] == "door" and c["corrected"] == "with_mask" for c in counts)
        assert sum(c["events"] for c in counts) == len(answer["ids"])
        # a new model file over the camera's (as train --from-store's output is copied in): loaded in place
        labels = json.loads(model.with_suffix(".labels.json").read_text())
        new = model.with_name("new.tflite")
        shutil.copy(model, new)
        trained = "2026-12-07T10:00:00+00:00"
        model.with_suffix(".labels.json").write_text(json.dumps({"labels": labels, "trained": trained}))
        os.replace(new, model)
        pid = site.cameras()["door"]["pid"]
        site.process.send_signal(signal.SIGHUP)  # at once, rather than within MODEL_CHECK_S
        wait_until(lambda: site.cameras()["door"]["trained"] == trained, 30, "the new model")
        assert first != trained and site.cameras()["door"]["pid"] == pid  # no restart
        assert "camera door: reloaded the model" in site.log.read_text()
        wait_until(lambda: site.cameras()["door"]["frames"] > 0 and site.cameras()["door"]["state"] == "running", 30,
                   "frames after the reload")
    finally:
        assert site.stop() == 0
