"""`maskwatch detect` as a user runs it: real models, real photos, a generated video, a local URL."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from maskwatch.commands import main
from maskwatch.data.voc import holdout, scan_scenes
from tests.conftest import N_FRAMES, SHARED, needs_shared
from tests.test_docs import SCORE_TOLERANCE, example_after

FACE_KEYS = {"box", "score", "label", "confidence", "probs", "person", "state"}
STATES = {"unknown", "with_mask", "without_mask"}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def check_record(record: dict) -> None:
    assert set(record) == {"source", "frame", "time", "faces", "events"}
    assert isinstance(record["frame"], int) and isinstance(record["time"], float)
    for face in record["faces"]:
        assert set(face) == FACE_KEYS
        x1, y1, x2, y2 = face["box"]
        assert 0 <= x1 < x2 and 0 <= y1 < y2
        assert face["label"] in face["probs"] and face["confidence"] == max(face["probs"].values())
        assert sum(face["probs"].values()) == pytest.approx(1, abs=1e-3)
        assert face["state"] in STATES
        assert face["person"] is None or isinstance(face["person"], int)


def test_default_input_writes_annotated_image_json_and_summary(tmp_path):
    out = tmp_path / "out"
    code = main(["detect", "sample:astronaut", "--save", str(out), "--json", str(out / "faces.jsonl"),
                 "--summary", str(out / "summary.json")])
    assert code == 0
    [record] = read_jsonl(out / "faces.jsonl")
    check_record(record)
    [face] = record["faces"]
    x1, y1, x2, y2 = face["box"]
    assert 150 < (x1 + x2) / 2 < 250 and 60 < (y1 + y2) / 2 < 170  # Eileen Collins' face
    assert face["label"] == "without_mask" and face["confidence"] > 0.8
    annotated = cv2.imread(str(out / "astronaut.png"))
    assert annotated.shape == (512, 512, 3)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["images"] == 1 and summary["faces"] == 1 and summary["per_state"] == {"without_mask": 1}
    assert face["state"] == "without_mask" and face["person"] is None  # a single image has no persons
    shown = example_after("A record of `--json`:")  # docs/detect.md's example is what this printed
    assert Path(record["source"]).parts[-3:] == Path(shown["source"]).parts[-3:] and record["events"] == shown["events"]
    [documented] = shown["faces"]
    assert [face[k] for k in ("label", "person", "state")] == [documented[k] for k in ("label", "person", "state")]
    assert face["box"] == pytest.approx(documented["box"], abs=1.5)  # bfloat16 and 8-bit arithmetic differ by CPU
    assert face["score"] == pytest.approx(documented["score"], abs=SCORE_TOLERANCE)
    assert face["probs"] == pytest.approx(documented["probs"], abs=0.01)


def test_a_drawn_on_mask_is_seen(tmp_path):
    from skimage import data

    from tests.conftest import masked

    photo = data.astronaut()
    photo[60:175, 180:270] = masked(photo[60:175, 180:270])
    cv2.imwrite(str(tmp_path / "masked.jpg"), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    assert main(["detect", str(tmp_path / "masked.jpg"), "--json", str(tmp_path / "f.jsonl")]) == 0
    faces = read_jsonl(tmp_path / "f.jsonl")[0]["faces"]
    assert [f["label"] for f in faces] == ["with_mask"]


def test_folder_with_video_and_corrupt_file_goes_on_and_exits_1(folder, tmp_path, capsys):
    out = tmp_path / "saved"
    code = main(["detect", str(folder), "--save", str(out), "--json", str(tmp_path / "all.jsonl")])
    assert code == 1
    err = capsys.readouterr().err
    assert "broken.jpg" in err and "empty.png" in err
    records = read_jsonl(tmp_path / "all.jsonl")
    for record in records:
        check_record(record)
    video = [r for r in records if r["source"].endswith("clip.mp4")]
    assert [r["frame"] for r in video] == list(range(N_FRAMES))
    assert video[-1]["time"] > video[0]["time"]
    assert len(records) == N_FRAMES + 3
    assert (out / "a.png").is_file() and (out / "sub" / "b.jpg").is_file()
    assert cv2.VideoCapture(str(out / "clip.mp4")).get(cv2.CAP_PROP_FRAME_COUNT) == N_FRAMES


def test_url_source_from_a_local_server(http_base, tmp_path):
    code = main(["detect", f"{http_base}/clip.mp4", "--no-show", "--json", str(tmp_path / "u.jsonl")])
    assert code == 0
    records = read_jsonl(tmp_path / "u.jsonl")
    assert len(records) == N_FRAMES and all(r["source"].startswith("http://127.0.0.1") for r in records)
    assert sum(len(r["faces"]) for r in records) >= N_FRAMES - 2


def test_json_to_stdout_is_pure_json_lines(tmp_path):
    result = subprocess.run([sys.executable, "-m", "maskwatch", "detect", "sample:astronaut", "--json", "-"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    [record] = [json.loads(line) for line in result.stdout.splitlines()]
    check_record(record)


@pytest.mark.parametrize(("args", "message"), [
    (["no/such/file.jpg"], "no such file or folder"),
    (["sample:astronaut", "--detect-every", "0"], "must be positive"),
    (["sample:astronaut", "--detect-every", "two"], "invalid"),
    (["sample:astronaut", "--events", "e.db", "--no-track"], "--events needs persons"),
    (["sample:astronaut", "--events", "."], "is a folder"),
    (["sample:astronaut", "--no-snapshots"], "need --events"),
    (["sample:astronaut", "--blur-snapshots"], "need --events"),
    (["sample:astronaut", "--events", "e.db", "--blur-snapshots", "--no-snapshots"], "contradict"),
    (["7"], "cannot open camera 7"),
    (["sample:nonexistent"], "no scikit-image sample photo"),
    (["sample:astronaut", "--model", "missing.tflite"], "model not found"),
])
def test_bad_sources_are_one_line_errors(args, message):
    result = subprocess.run([sys.executable, "-m", "maskwatch", "detect", *args], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert message in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr


def test_show_without_a_display_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["detect", "sample:astronaut", "--show"]) == 2
    assert "needs a display" in capsys.readouterr().err


@needs_shared
def test_scene_photos_from_the_shared_set(tmp_path):
    scenes = [s for s in scan_scenes(SHARED / "mask-detect") if holdout(s.image.name)][:5]
    for scene in scenes:
        shutil.copy(scene.image, tmp_path)
    assert main(["detect", str(tmp_path), "--json", str(tmp_path / "s.jsonl")]) == 0
    records = read_jsonl(tmp_path / "s.jsonl")
    found = sum(len(r["faces"]) for r in records)
    annotated = sum(len(s.boxes) for s in scenes)
    assert found >= 0.7 * annotated


def test_detect_never_imports_tensorflow(tmp_path):
    code = ("import sys; from maskwatch.commands import main; "
            f"main(['detect', 'sample:astronaut', '--json', {str(tmp_path / 'f.jsonl')!r}]); "
            "print(sorted(m for m in ('tensorflow', 'keras', 'torch') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("command", [["detect", "{folder}", "--json", "{out}", "--ray"],
                                     ["watch", "{config}", "--ray"]])
def test_ray_missing_is_a_one_line_error_that_says_how_to_install_it(folder, tmp_path, command):
    config = tmp_path / "site.toml"
    config.write_text(f'store = "e.db"\n[[camera]]\nname = "a"\nsource = "{folder / "clip.mp4"}"\n')
    argv = [a.format(folder=folder, out=tmp_path / "f.jsonl", config=config) for a in command]
    code = ("import sys; sys.modules['ray'] = None; from maskwatch.commands import main; "  # as if not installed
            f"sys.exit(main({argv!r}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "pip install -e '.[cluster]'" in lines[0]
    assert not (tmp_path / "f.jsonl").exists() and not (tmp_path / "e.db").exists()
