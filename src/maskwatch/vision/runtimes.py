"""Where the models run: the face detector on onnxruntime (8 bits where exact) and the classifier on LiteRT, or
either on OpenVINO in bfloat16 where the CPU computes in it (AMX, AVX-512 BF16), OpenVINO is installed, and
OpenVINO measured faster on this machine.

Whether bfloat16 pays depends on the CPU, not only on its flags: on a 2-core Xeon with AMX the detector ran
1.6-3.5x faster on OpenVINO, on an AMD EPYC with AVX-512 BF16 and no AMX 0.92x. So the first use of a model on
a machine times both runtimes on the same input, turn about, and the faster one is kept in a cache file per
CPU, model and runtime versions (`choose`); the log says which runs and why. MASKWATCH_OPENVINO=0 keeps
OpenVINO off, =1 uses it without measuring.

OpenVINO's Python package loads its telemetry on import (Google Analytics, on unless a consent file says no);
maskwatch keeps that module from loading, and install.sh does not install it.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

OPT_OUT = "MASKWATCH_OPENVINO"  # =0: onnxruntime and LiteRT even where OpenVINO would be faster


def _openvino():
    """The `openvino` module, imported with its telemetry kept out (its import fails, and OpenVINO falls back
    to its stub). Every import of OpenVINO in maskwatch goes through here, asked for or not."""
    sys.modules.setdefault("openvino_telemetry", None)
    import openvino

    return openvino


@lru_cache(maxsize=1)
def _core():
    """One OpenVINO Core for the whole process, never released. Its CPU plugin gives each thread that runs a
    model an alternate signal stack, and frees them when it is unloaded (the last Core and model gone), taking
    the stack back only from the thread that unloads it: unloaded elsewhere (the garbage collector in another
    thread), the next Ctrl-C on the main thread ran on freed memory and killed the process (a segmentation
    fault, in the test suite). Kept loaded, the stacks stay valid."""
    return _openvino().Core()


@lru_cache(maxsize=1)
def cpu_bf16() -> bool:
    """Whether OpenVINO is installed and this CPU computes in bfloat16."""
    try:
        core = _core()
    except ImportError:
        return False
    return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def openvino_bf16() -> bool:
    """Whether OpenVINO may be used: installed, this CPU computes in bfloat16, and not turned off
    (MASKWATCH_OPENVINO=0). Whether it is, for a model, `choose` decides."""
    return os.environ.get(OPT_OUT) != "0" and cpu_bf16()


@dataclass(frozen=True)
class Choice:
    """The runtime a model runs on, and why (for the log and `bench`)."""

    runtime: str
    why: str
    ms: dict[str, float] | None = None  # what each runtime took, where measured


ROUNDS = 5  # timed calls of each runtime, turn about, after a warm-up call each
MARGIN = 0.9  # OpenVINO is chosen only when it takes less than this share of the other runtime's time


def cache_file() -> Path:
    """Where measured choices are kept: $XDG_CACHE_HOME/maskwatch/runtimes.json (default ~/.cache)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "maskwatch" / "runtimes.json"


def _cpu() -> str:
    """The CPU's model name and the flags that decide bfloat16's speed."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    name = re.search(r"^model name\s*:\s*(.+)$", info, re.M)
    flags = set(re.search(r"^flags\s*:\s*(.+)$", info, re.M).group(1).split()) if "flags" in info else set()
    wanted = sorted(flags & {"amx_bf16", "amx_tile", "amx_int8", "avx512_bf16", "avx512_vnni", "avx_vnni"})
    return f"{name.group(1).strip() if name else platform.machine()} [{' '.join(wanted)}]"


def _versions() -> str:
    import onnxruntime

    return f"openvino {_openvino().__version__}, onnxruntime {onnxruntime.__version__}"


def choose(model: Path, default: str, timers: Callable[[], dict[str, Callable[[], object]]]) -> Choice:
    """The runtime for `model`: `default` ("onnxruntime", "litert") or "openvino". Where OpenVINO may run
    (`openvino_bf16`), both are timed on this machine (`timers()` gives a call of each, on the same input)
    unless the cache file holds a choice for this CPU, model file and runtime versions."""
    if not openvino_bf16():
        why = f"{OPT_OUT}=0" if os.environ.get(OPT_OUT) == "0" else "OpenVINO not installed or no bfloat16 on this CPU"
        return Choice(default, why)
    if os.environ.get(OPT_OUT) == "1":
        return Choice("openvino", f"{OPT_OUT}=1")
    stat = model.stat()
    key = f"{model.name} {stat.st_size} | {_cpu()} | {_versions()}"
    with _choosing:
        cached = _read_cache().get(key)
        if cached:
            return Choice(cached["runtime"], f"measured on this machine {cached['when']} ({_times(cached['ms'])}; "
                          f"{cache_file()})", cached["ms"])
        ms = _time_turn_about(timers())
        runtime = "openvino" if ms["openvino"] < MARGIN * ms[default] else default
        _write_cache(key, {"runtime": runtime, "ms": ms, "when": time.strftime("%Y-%m-%d")})
        log.info("%s: %s measured faster here (%s)", model.name, runtime, _times(ms))
        return Choice(runtime, f"measured on this machine just now ({_times(ms)})", ms)


_choosing = threading.Lock()  # serve's threads may load models at once: one measurement at a time


def _times(ms: dict[str, float]) -> str:
    return " against ".join(f"{name} {value:.2f} ms" for name, value in ms.items())


def _time_turn_about(calls: dict[str, Callable[[], object]]) -> dict[str, float]:
    """The median ms of each call over ROUNDS rounds, one call of each per round (a busy moment slows both
    alike), after one untimed warm-up call each."""
    for call in calls.values():
        call()
    taken: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(ROUNDS):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            taken[name].append(1000 * (time.perf_counter() - started))
    return {name: round(float(np.median(values)), 3) for name, values in taken.items()}


def _read_cache() -> dict:
    try:
        data = json.loads(cache_file().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(key: str, value: dict) -> None:
    """Add a choice to the cache file (written whole and renamed into place); a cache that cannot be written
    costs a measurement per process, nothing else."""
    data = {**_read_cache(), key: value}
    path = cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(data, indent=1))
        temporary.replace(path)
    except OSError as error:
        log.debug("cannot keep the runtime choice in %s: %s", path, error)


def read_openvino(model: bytes | Path):
    """An `openvino.Model` from ONNX bytes or a model file (.onnx, .tflite)."""
    return _core().read_model(model if isinstance(model, bytes) else str(model))


def takes_uint8_images(model):
    """The model with its input taken as images are held, uint8 NHWC, turned into the float NCHW it wants
    inside the compiled model (no float copy of each frame in Python)."""
    openvino = _openvino()
    steps = openvino.preprocess.PrePostProcessor(model)
    steps.input().tensor().set_element_type(openvino.Type.u8).set_layout(openvino.Layout("NHWC"))
    steps.input().model().set_layout(openvino.Layout("NCHW"))
    steps.input().preprocess().convert_element_type(openvino.Type.f32)
    return steps.build()


class OpenVinoModel:
    """A model compiled by OpenVINO for the CPU, in bfloat16 where the CPU has it; an infer request per thread
    (serve's threads share cached detector models, and a request serves one call at a time)."""

    def __init__(self, model, threads: int, outputs: Sequence[str] | None = None) -> None:
        """`model`: an `openvino.Model` (`read_openvino`); `outputs`: the names of the outputs a call returns,
        in that order (default: all, in the model's order)."""
        precision = "bf16" if cpu_bf16() else "f32"
        self._compiled = _core().compile_model(model, "CPU", {
            "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"})
        self._outputs = ([self._compiled.output(name) for name in outputs] if outputs is not None
                         else list(self._compiled.outputs))
        self._requests = threading.local()

    def __call__(self, inputs: np.ndarray) -> list[np.ndarray]:
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self._compiled.create_infer_request()
        results = request.infer({0: inputs}, share_inputs=True)
        return [results[output] for output in self._outputs]
