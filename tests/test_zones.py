"""Zones: named parts of a camera's picture. Events name the zones a person is in, alert rules may require
them, faces outside every zone may be ignored, `--check` refuses a bad polygon, and zones are drawn."""

from __future__ import annotations

import json
import threading
import warnings
from pathlib import Path

import av
import numpy as np
import pytest

import maskwatch.commands
from maskwatch.core.zones import Zone, parse_zone, zone_problem, zones_of
from maskwatch.io.annotate import ZONE_COLOUR, draw
from maskwatch.monitor.config import load
from maskwatch.monitor.worker import WorkerSettings, watch_camera
from maskwatch.store import EventStore
from tests.services import door_clip

# door_clip: a 640x480 view with one bare face in the middle (centre 320, 240), then nobody
DOOR = "door=0.25,0 0.75,0 0.75,1 0.25,1"  # the middle half of the picture
STREET = "street=0,0 0.2,0 0.2,1 0,1"  # a strip on the left, where nobody is


def test_a_face_is_in_a_zone_when_the_centre_of_its_box_is() -> None:
    door, street = parse_zone(DOOR), parse_zone(STREET)
    assert door.relative and door.points[1] == (0.75, 0.0)
    assert zones_of((300, 200, 340, 280), [door, street], 640, 480) == ["door"]
    assert zones_of((100, 200, 340, 280), [door, street], 640, 480) == ["door"]  # its centre is at x 220
    assert zones_of((0, 0, 100, 100), [door, street], 640, 480) == ["street"]
    pixels = Zone("desk", ((100, 100), (200, 100), (200, 200)))
    assert not pixels.relative and zones_of((150, 110, 190, 150), [pixels], 1920, 1080) == ["desk"]


@pytest.mark.parametrize(("name", "points", "problem"), [
    ("door", [[0, 0], [1, 0]], "at least 3"),
    ("door", [[0, 0], [1, 0], [2, 0]], "no area"),
    ("door", [[0, 0], [1, "a"], [1, 1]], "every corner"),
    ("door", [[0, 0], [-1, 0], [1, 1]], "every corner"),
    ("a door", [[0, 0], [1, 0], [1, 1]], "a name of 1-64"),
    ("door", [[0, 0], [1e308, 0], [1e308, 1e308]], "from 0 to 100000"),  # float32 corners would overflow
    ("door", [[0, 0], [2, 2], [2, 0], [0, 1]], "edges 1 and 3 cross"),  # a bow tie
    ("door", [[0, 0], [4, 0], [4, 4], [2, 4], [2, 0], [0, 4]], "cross"),  # an edge runs back along another
    ("door", [[0, 0], [2, 0], [1, 0], [1, 1]], "edges 1 and 2 cross"),  # folds back on itself
])
def test_a_bad_zone_says_what_is_wrong(name, points, problem) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning on the way to the answer
        assert problem in zone_problem(name, points)


@pytest.mark.parametrize("points", [[[0, 0], [1, 0], [1, 1], [0, 1]], [[0, 0], [4, 0], [4, 4], [2, 1], [0, 4]],
                                    [[0.3, 0.0], [0.7, 0.0], [0.7, 1.0], [0.3, 1.0]], [[0, 0], [2, 0], [1, 1]]])
def test_simple_polygons_are_zones(points) -> None:
    """A square, a concave one, a door of fractions, a triangle: no crossing where edges only share corners."""
    assert zone_problem("door", points) is None


def _run(tmp_path: Path, *zones: str) -> tuple[int, list[dict]]:
    clip = door_clip(tmp_path / "door.mp4", seconds_in=2.0)
    code = maskwatch.commands.main(["-q", "detect", str(clip), "--json", str(tmp_path / "faces.jsonl"), "--events",
                               str(tmp_path / "events.db"), "--save", str(tmp_path / "out"), *zones])
    return code, [json.loads(line) for line in (tmp_path / "faces.jsonl").read_text().splitlines()]


def test_detect_names_the_zones_of_each_event_and_draws_them(tmp_path: Path) -> None:
    code, records = _run(tmp_path, "--zone", DOOR, "--zone", STREET)
    events = [event for record in records for event in record["events"]]
    assert code == 0 and [e["kind"] for e in events] == ["person_appeared", "person_left"]
    assert all(e["zones"] == ["door"] for e in events)
    with EventStore(tmp_path / "events.db") as store:  # stored, and read back
        assert [e.zones for e in store.events()] == [["door"], ["door"]]
    with av.open(str(tmp_path / "out" / "door.mp4")) as saved:
        frame = next(saved.decode(video=0)).to_ndarray(format="rgb24")
    street_edge = frame[5:475, 126:130].astype(int)  # the street zone's right edge, at 0.2 of 640 px
    assert (np.abs(street_edge - ZONE_COLOUR).sum(axis=2) < 90).any(axis=1).mean() > 0.9  # a line down it


def test_faces_outside_every_zone_can_be_ignored(tmp_path: Path) -> None:
    code, records = _run(tmp_path, "--zone", STREET, "--ignore-outside-zones")
    assert code == 0 and not any(record["faces"] or record["events"] for record in records)


@pytest.mark.parametrize(("options", "error"), [
    (["--zone", "door=0,0 1,0"], "at least 3"),
    (["--zone", "door"], "give NAME=X,Y X,Y X,Y"),
    (["--zone", "door=0x10,0 1,0 0,1"], "a corner is not a number"),
    (["--zone", "door=0,0 1e300,0 0,1e300"], "from 0 to 100000"),
    (["--ignore-outside-zones"], "--ignore-outside-zones needs at least one --zone"),
    (["--zone", DOOR, "--zone", DOOR], "each zone needs its own name"),
])
def test_bad_zone_options_are_one_line_errors(tmp_path: Path, capsys, options, error) -> None:
    clip = door_clip(tmp_path / "door.mp4")
    try:
        code = maskwatch.commands.main(["detect", str(clip), "--json", str(tmp_path / "f.jsonl"), *options])
    except SystemExit as exit_:  # argparse refuses a --zone it cannot read
        code = exit_.code
    assert code == 2
    assert error in capsys.readouterr().err.strip().splitlines()[-1]


SITE = """
store = "events.db"
[[camera]]
name = "door"
source = "door.mp4"
[[camera.zone]]
name = "door"
points = [[0.25, 0], [0.75, 0], [0.75, 1], [0.25, 1]]
[[camera.zone]]
name = "street"
points = [[0, 0], [128, 0], [128, 480], [0, 480]]
"""


def test_watch_config_zones_and_alert_rules_that_need_them(tmp_path: Path) -> None:
    door_clip(tmp_path / "door.mp4")
    (tmp_path / "site.toml").write_text(SITE + '[[alert]]\nstate = "without_mask"\nafter_s = 0.5\nzones = ["door"]\n'
                                               '[[alert]]\nstate = "without_mask"\nafter_s = 0.5\nzones = ["street"]\n')
    config = load(tmp_path / "site.toml")
    camera = config.cameras[0]
    assert [z.name for z in camera.zones] == ["door", "street"] and not camera.zones[1].relative
    assert [rule.zones for rule, _ in config.alerts] == [("door",), ("street",)]
    watch_camera(WorkerSettings(camera, config.rules_for("door"), store=tmp_path / "events.db"), lambda m: None,
                 threading.Event())
    with EventStore(tmp_path / "events.db") as store:
        events = store.events()
    alerts = [e for e in events if e.kind == "alert"]
    assert alerts and all(e.zones == ["door"] for e in events)  # only the door rule fired: nobody is in the street


@pytest.mark.parametrize(("extra", "problem"), [
    ('[[camera.zone]]\nname = "door"\npoints = [[0, 0], [1, 1], [0, 1]]\n', "duplicate zone name 'door'"),
    ('[[camera.zone]]\nname = "hall"\npoints = [[0, 0], [1, 1]]\n', "at least 3 [x, y] corners"),
    ('[[camera.zone]]\npoints = [[0, 0], [1, 1], [0, 1]]\n', "'name' is required"),
    ('[[alert]]\nstate = "without_mask"\nzones = ["garden"]\n', "'zones' names no zone of any camera: garden"),
])
def test_check_refuses_bad_zones(tmp_path: Path, capsys, extra: str, problem: str) -> None:
    door_clip(tmp_path / "door.mp4")
    (tmp_path / "site.toml").write_text(SITE + extra)
    assert maskwatch.commands.main(["watch", str(tmp_path / "site.toml"), "--check"]) == 2
    assert problem in capsys.readouterr().err


def test_ignore_outside_zones_needs_a_zone(tmp_path: Path, capsys) -> None:
    door_clip(tmp_path / "door.mp4")
    (tmp_path / "site.toml").write_text('store = "e.db"\n[[camera]]\nname = "door"\nsource = "door.mp4"\n'
                                        "ignore_outside_zones = true\n")
    assert maskwatch.commands.main(["watch", str(tmp_path / "site.toml"), "--check"]) == 2
    assert "camera 'door': 'ignore_outside_zones' needs at least one [[camera.zone]]" in capsys.readouterr().err


def test_the_live_view_draws_the_zones() -> None:
    image = np.zeros((480, 640, 3), np.uint8)
    drawn = draw(image, [], None, [parse_zone(DOOR)])
    assert (np.abs(drawn[100:400, 479:482].astype(int) - ZONE_COLOUR).sum(axis=2) < 90).any()
    assert not drawn[200:300, 200:260].any()  # inside the zone nothing is painted
