"""Which runtime a model runs on: measured on this machine, turn about, kept per CPU and model, and logged."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from maskwatch.vision import runtimes
from maskwatch.vision.runtimes import OPT_OUT, choose


@pytest.fixture
def model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(OPT_OUT, raising=False)
    monkeypatch.setattr(runtimes, "openvino_bf16", lambda: True)  # as on a CPU that computes in bfloat16
    monkeypatch.setattr(runtimes, "_versions", lambda: "test versions")
    path = tmp_path / "model.onnx"
    path.write_bytes(b"weights")
    return path


def _timers(openvino_s: float, default_s: float, calls: list, default: str = "onnxruntime"):
    def timers():
        calls.append(1)
        return {default: lambda: time.sleep(default_s), "openvino": lambda: time.sleep(openvino_s)}

    return timers


def test_the_faster_runtime_is_chosen_by_measuring_and_the_choice_is_kept(model: Path) -> None:
    calls: list = []
    slower = choose(model, "onnxruntime", _timers(0.006, 0.001, calls))  # bfloat16 slower here (an AMD EPYC's case)
    assert slower.runtime == "onnxruntime" and slower.ms["openvino"] > slower.ms["onnxruntime"]
    assert "measured on this machine just now" in slower.why and "openvino" in slower.why
    again = choose(model, "onnxruntime", _timers(0.0, 0.01, calls))  # kept: not measured again
    assert again.runtime == "onnxruntime" and calls == [1] and str(runtimes.cache_file()) in again.why
    kept = json.loads(runtimes.cache_file().read_text())
    [(key, value)] = kept.items()
    assert "model.onnx" in key and value["runtime"] == "onnxruntime"
    model.write_bytes(b"other weights, another size")  # another model file: measured anew
    faster = choose(model, "onnxruntime", _timers(0.0005, 0.006, calls))
    assert faster.runtime == "openvino" and calls == [1, 1]


def test_openvino_needs_a_clear_win(model: Path) -> None:
    """Within MARGIN of the default, the default stays: a coin toss should not decide a machine's runtime."""
    assert choose(model, "litert", _timers(0.0049, 0.005, [], "litert")).runtime == "litert"


def test_the_environment_decides_without_measuring(model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list = []
    monkeypatch.setenv(OPT_OUT, "0")
    monkeypatch.setattr(runtimes, "openvino_bf16", lambda: False)
    assert choose(model, "onnxruntime", _timers(0, 0, calls)).why == f"{OPT_OUT}=0"
    monkeypatch.setenv(OPT_OUT, "1")
    monkeypatch.setattr(runtimes, "openvino_bf16", lambda: True)
    assert choose(model, "onnxruntime", _timers(0, 0, calls)).runtime == "openvino" and calls == []


def test_a_cache_that_cannot_be_written_costs_a_measurement_and_nothing_else(model: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = model.parent / "blocked"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    calls: list = []
    assert choose(model, "onnxruntime", _timers(0.004, 0.0005, calls)).runtime == "onnxruntime"
    assert choose(model, "onnxruntime", _timers(0.004, 0.0005, calls)).runtime == "onnxruntime" and calls == [1, 1]
