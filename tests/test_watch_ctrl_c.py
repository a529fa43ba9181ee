"""Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while the camera workers start: a clean
stop, no traceback from a worker killed mid-import."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.services import door_clip, free_port


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(child) for child in found]


def test_ctrl_c_while_workers_start_is_a_clean_stop(tmp_path: Path) -> None:
    door_clip(tmp_path / "door.mp4")
    cameras = "".join(f'[[camera]]\nname = "door{i}"\nsource = "door.mp4"\nloop = true\n' for i in range(3))
    (tmp_path / "site.toml").write_text(f'store = "events.db"\n[http]\nport = {free_port()}\n{cameras}')
    log = tmp_path / "watch.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "maskwatch", "watch", "site.toml"], cwd=tmp_path,
                                   stdout=out, stderr=out, start_new_session=True)
    deadline = time.monotonic() + 60
    while len(_children(process.pid)) < 2 and time.monotonic() < deadline:  # a worker is starting
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(90) == 0, log.read_text()[-3000:]
    text = log.read_text()
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text[-3000:]
