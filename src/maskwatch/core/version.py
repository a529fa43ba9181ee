"""maskwatch's version, as pyproject.toml declares it (read from the installed package's metadata)."""

from importlib.metadata import version

VERSION = version("maskwatch")
