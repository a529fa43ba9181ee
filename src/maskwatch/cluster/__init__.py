"""Running on a Ray cluster: archives of files, and the cameras of `watch`."""

from __future__ import annotations

from types import ModuleType

from maskwatch.core.errors import Unavailable


def require_ray() -> ModuleType:
    """The `ray` module, or a one-line error that says how to install it (it is an optional extra)."""
    try:
        import ray
    except ImportError:
        raise Unavailable("--ray needs Ray, an optional extra: .venv/bin/pip install -e '.[cluster]' "
                           "(on every node)") from None
    return ray
