"""Errors that are the user's input, not a bug: the CLI prints them on one line and exits 2."""

from __future__ import annotations

import argparse

from maskwatch.data.dataset import DatasetError
from maskwatch.io.images import UnreadableImage
from maskwatch.io.sources import SourceError
from maskwatch.monitor.config import ConfigError
from maskwatch.store import EventStoreError
from maskwatch.training.weights import WeightsNotFound

USER_ERRORS: tuple[type[BaseException], ...] = (
    DatasetError, UnreadableImage, WeightsNotFound, FileNotFoundError, NotADirectoryError, PermissionError,
    argparse.ArgumentTypeError, ValueError, SourceError, RuntimeError, EventStoreError, ConfigError,
)
