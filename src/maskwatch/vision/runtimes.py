"""Where the models run: on OpenVINO in bfloat16 where the CPU computes in it (AMX, AVX-512 BF16) and OpenVINO is
installed; otherwise (or with MASKWATCH_OPENVINO=0) the face detector on onnxruntime, the classifier on LiteRT.

On such a CPU (2 cores, README "Speed"), bfloat16 runs the float detector 1.6x faster than 8 bits on
onnxruntime, with a higher held-out face recall, and the classifier 2-2.6x faster than LiteRT on batches of
3-8 faces, its probabilities within 0.005.

OpenVINO's Python package loads its telemetry on import (Google Analytics, on unless a consent file says no);
maskwatch keeps that module from loading, and install.sh does not install it.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

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
    """Whether OpenVINO is to be used: installed, this CPU computes in bfloat16, and not turned off
    (MASKWATCH_OPENVINO=0)."""
    return os.environ.get(OPT_OUT) != "0" and cpu_bf16()


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
