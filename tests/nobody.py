"""`maskwatch` as user nobody, for the permission cases of tests that run as root (whom chmod does not stop).

The venv's interpreter may live where nobody cannot go (pyenv under /root): then the system's Python of the
same version runs the venv's packages, which all may read."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

NOBODY = {"user": "nobody", "group": "nogroup"}
SITE = sysconfig.get_paths()["purelib"]
MAIN = f"import site, sys; site.addsitedir({SITE!r}); from maskwatch.commands import main; sys.exit(main(sys.argv[1:]))"


def _runs_as_nobody(python: str) -> bool:
    try:
        return subprocess.run([python, "-c", f"import site; site.addsitedir({SITE!r}); import cv2, maskwatch"],
                              capture_output=True, timeout=60, cwd="/tmp", **NOBODY).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.cache
def nobody_python() -> str | None:
    """An interpreter user nobody can run with the venv's packages; None if not root or there is none."""
    if os.geteuid() != 0:
        return None
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [sys.executable, shutil.which(version, path="/usr/bin:/usr/local/bin")]
    return next((python for python in candidates if python and _runs_as_nobody(python)), None)


@contextmanager
def nobody_folder() -> Iterator[Path]:
    """A fresh folder under /tmp (not below root's own 0700 folders) that nobody may enter but not write;
    skips the test where nobody cannot run maskwatch."""
    if nobody_python() is None:
        pytest.skip("needs root and a Python that user nobody may run with this venv")
    folder = Path(tempfile.mkdtemp(dir="/tmp", prefix="maskwatch-nobody-"))
    folder.chmod(0o755)
    (folder / "home").mkdir(mode=0o777)
    (folder / "home").chmod(0o777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def maskwatch_as_nobody(folder: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """`maskwatch ARGS` as user nobody in `folder` (from `nobody_folder`), with a home of its own there
    (onnxruntime warns without one), text output."""
    env = {**os.environ, "HOME": str(folder / "home")}
    return subprocess.run([nobody_python(), "-c", MAIN, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=folder, env=env, **NOBODY)
