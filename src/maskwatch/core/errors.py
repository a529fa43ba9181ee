"""The errors that are the user's, not a bug: the command line prints them on one line and exits 2.

Every error a user can cause (a file, an option, a config, a missing extra) is a `MaskwatchError`; anything
else that escapes a command is a bug, shown as a traceback with exit 1. The subclasses also derive from the
built-in type they replace, so that library callers who catch `ValueError` or `RuntimeError` still do.
"""

from __future__ import annotations


class MaskwatchError(Exception):
    """A problem with what the user gave or has, said in one line."""


class InvalidInput(MaskwatchError, ValueError):
    """A value, option or file the user gave that cannot be used."""


class Unavailable(MaskwatchError, RuntimeError):
    """Something this machine lacks: an optional extra, a window, the pretrained weights."""
