"""maskwatch: find faces in cameras, videos, streams and photos, and tell whether each wears a mask."""

__version__ = "0.1.0"
