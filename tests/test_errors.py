"""A user's error is one line and exit 2; a bug is a traceback and exit 1 (not dressed up as the user's)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from maskwatch.core.errors import InvalidInput, MaskwatchError, Unavailable

RAISING = """
import sys
from maskwatch import commands

def run(args):
    raise {error}

commands.COMMANDS["events"].run = run
sys.exit(commands.main(["events", "events.db"]))
"""


def _main_raising(error: str, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RAISING.format(error=error)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("error", ["ValueError('a bug')", "RuntimeError('a bug')", "KeyError('a bug')"])
def test_a_bug_is_a_traceback_and_exit_1(error: str, tmp_path) -> None:
    done = _main_raising(error, tmp_path)
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "a bug" in done.stderr and "error: a bug" not in done.stderr


@pytest.mark.parametrize("error", ["__import__('maskwatch.core.errors').core.errors.InvalidInput('no such zone')",
                                   "FileNotFoundError(2, 'No such file or directory', 'events.db')"])
def test_a_users_error_is_one_line_and_exit_2(error: str, tmp_path) -> None:
    done = _main_raising(error, tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("maskwatch events: error: ")


def test_user_errors_still_are_the_built_in_types_they_replace() -> None:
    """Library callers who caught ValueError or RuntimeError before keep catching them."""
    assert issubclass(InvalidInput, ValueError) and issubclass(Unavailable, RuntimeError)
    assert issubclass(InvalidInput, MaskwatchError) and issubclass(Unavailable, MaskwatchError)
