"""Progress bars on stderr that keep quiet with the logs (`-q`: only warnings and errors)."""

from __future__ import annotations

import logging

from tqdm import tqdm


def progress(*args, **kwargs) -> tqdm:
    """A `tqdm` bar, off where INFO is not logged (`maskwatch -q`)."""
    kwargs.setdefault("disable", not logging.getLogger().isEnabledFor(logging.INFO))
    return tqdm(*args, **kwargs)
