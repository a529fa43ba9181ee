"""Issue 18, items 6 and 15, on a real store: CSV exports (`events --csv` in a subprocess and /api/events.csv
of a real `watch`) neutralise cells a spreadsheet would run as formulas and round numbers as the JSON does;
--source and source= find a source by its file name, and `events` says which sources exist when none
matches."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import maskwatch.commands
from maskwatch.core.events import Event
from maskwatch.store import EventStore
from tests.services import Watch, door_site

FORMULAS = ('=HYPERLINK("evil.example","click").mp4', "+1+2.mp4", "-1+2.mp4", "@SUM(1).mp4", "\tTAB.mp4",
            "\rCR.mp4")
PLAIN = ("/data/clips/clip.mp4", "D:\\videos\\hall.mp4", "cam1")
ROUNDED = {"x1": "-3.3", "y1": "20.0", "x2": "110.1", "y2": "150.7", "time": "1.235", "confidence": "0.9877",
           "masked_share": "0.3333", "duration_s": "3.1416"}


def fill(store_path: Path) -> None:
    with EventStore(store_path) as store:
        for person, source in enumerate((*FORMULAS, *PLAIN), 1):
            store.add(Event("person_left", person, source, 12, 1.23456, "2024-05-01T10:15:00.000+02:00",
                            "with_mask", (-3.26, 20.04, 110.06, 150.71), 0.987654, frames_seen=30,
                            masked_share=1 / 3, duration_s=3.14159))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watch]:
    folder = tmp_path_factory.mktemp("site")
    fill(folder / "events.db")
    watch = door_site(folder)
    try:
        yield watch.wait_answering()
    finally:
        watch.stop()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    fill(tmp_path / "events.db")
    return tmp_path / "events.db"


def check_csv(text: str) -> None:
    rows = {row["source"]: row for row in csv.DictReader(io.StringIO(text, newline=""))}
    assert {f"'{source}" for source in FORMULAS} | set(PLAIN) <= set(rows)
    for row in rows.values():
        for value in row.values():
            if value.startswith(("=", "+", "-", "@", "\t", "\r")):
                float(value)  # only numbers may start so
        if row["source"] in PLAIN:
            assert {k: row[k] for k in ROUNDED} == ROUNDED
            assert (row["frame"], row["frames_seen"], row["previous_state"]) == ("12", "30", "")


def test_events_csv_neutralises_formulas_and_rounds(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "events.csv"
    done = subprocess.run([sys.executable, "-m", "maskwatch", "events", str(store), "--csv", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with out.open(encoding="utf-8", newline="") as file:  # a CR inside a cell stays a CR
        check_csv(file.read())


def test_api_csv_neutralises_formulas_and_rounds(site: Watch) -> None:
    response = site.get("/api/events.csv")
    assert response.status_code == 200
    check_csv(response.text)


def events(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[list[str], str]:
    """The sources of the events `maskwatch events ... --csv -` lists, and its stderr."""
    assert maskwatch.commands.main(["events", *argv, "--csv", "-"]) == 0
    captured = capsys.readouterr()
    return [row["source"] for row in csv.DictReader(io.StringIO(captured.out))], captured.err


def test_source_matches_the_file_name_too(store: Path, capsys: pytest.CaptureFixture) -> None:
    for wanted, found in [("clip.mp4", "/data/clips/clip.mp4"), ("/data/clips/clip.mp4", "/data/clips/clip.mp4"),
                          ("hall.mp4", "D:\\videos\\hall.mp4"), ("cam1", "cam1"), ("@SUM(1).mp4", "'@SUM(1).mp4")]:
        assert events([str(store), "--source", wanted], capsys) == ([found], ""), wanted
    assert maskwatch.commands.main(["events", str(store), "--source", "clip.mp4", "--summary", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["people"] == 1


def test_no_match_names_the_sources_there_are(store: Path, capsys: pytest.CaptureFixture) -> None:
    for wanted in ("lip.mp4", "clips/clip.mp4", "CLIP.mp4"):  # no part of a name, no part of a path
        listed, err = events([str(store), "--source", wanted], capsys)
        assert listed == [] and f"no source matches {wanted!r}" in err and "the store has 9 source(s):" in err
    assert "'/data/clips/clip.mp4'" in err and "'cam1'" in err and "'\\rCR.mp4'" in err  # odd names quoted
    with EventStore(store) as many:
        for person in range(20):
            many.add(Event("person_appeared", person, f"cam{person:02d}", 1, 0.0, "2024-05-01T10:15:00.000+02:00",
                           "with_mask", (0.0, 0.0, 1.0, 1.0), 0.9))
    _, err = events([str(store), "--source", "nowhere"], capsys)
    assert err.count(", '") == 9 and err.endswith("'cam01' and 19 more\n") and len(err.splitlines()) == 1
    assert maskwatch.commands.main(["events", str(store), "--source", "nowhere"]) == 0
    err = capsys.readouterr().err
    assert "no source matches 'nowhere'" in err


def test_api_source_matches_the_file_name_too(site: Watch) -> None:
    [event] = [e for e in site.get("/api/events?source=clip.mp4").json()]
    assert event["source"] == "/data/clips/clip.mp4"
    rows = list(csv.DictReader(io.StringIO(site.get("/api/events.csv?source=hall.mp4").text)))
    assert [row["source"] for row in rows] == ["D:\\videos\\hall.mp4"]
