"""maskwatch: find faces in cameras, videos, streams and photos, and tell whether each wears a mask.

    from maskwatch import MaskDetector, read_image, track
    faces = MaskDetector()(read_image("street.jpg"))
    for frame in track("entrance.mp4"):
        print(frame.events)
"""

from maskwatch.core.version import VERSION as __version__

# Loaded on first use, so that `import maskwatch` (and every CLI command) stays quick.
_LAZY = {"MaskDetector": "maskwatch.vision.pipeline", "read_image": "maskwatch.io.images",
         "VideoAnalyzer": "maskwatch.video.analysis", "EventStore": "maskwatch.store",
         "track": "maskwatch.video.track", "to_detections": "maskwatch.core.faces"}
__all__ = ["EventStore", "MaskDetector", "VideoAnalyzer", "__version__", "read_image", "to_detections", "track"]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'maskwatch' has no attribute {name!r}")
