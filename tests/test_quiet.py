"""What libraries print on stderr by themselves (LiteRT's XNNPACK line, TensorFlow's absl lines, OpenCV's and
FFmpeg's warnings, TensorFlow's and matplotlib's INFO logs) is heard only with -v. Real subprocesses, as the
user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import free_port


def maskwatch(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The CLI as a user starts it: without the log levels that an in-process `main()` of another test left in
    this process's environment (a user's own OPENCV_LOG_LEVEL is theirs to keep)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENCV_LOG_LEVEL", "OPENCV_FFMPEG_LOGLEVEL")}
    return subprocess.run([sys.executable, "-m", "maskwatch", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env=env)


def test_quiet_detect_prints_no_litert_line() -> None:
    result = maskwatch("-q", "detect", "sample:astronaut")
    assert result.returncode == 0, result.stderr
    assert not [line for line in result.stderr.splitlines() if "XNNPACK" in line or line.startswith("INFO")]
    assert "without_mask 1" in result.stderr  # the summary is the command's result, not a log line
    assert "XNNPACK" not in maskwatch("detect", "sample:astronaut").stderr
    assert "XNNPACK" in maskwatch("-v", "detect", "sample:astronaut").stderr  # hidden, not absent


@pytest.mark.skipif(Path("/dev/video7").exists(), reason="this machine has a camera 7")
def test_a_missing_camera_is_one_line_and_verbose_lets_opencv_speak(tmp_path: Path) -> None:
    result = maskwatch("detect", "7", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["maskwatch detect: error: cannot open camera 7 (no such device, or it is "
                                          "busy or not permitted)"]
    verbose = maskwatch("-v", "detect", "7", cwd=tmp_path)
    assert verbose.returncode == 2
    assert "WARN" in verbose.stderr and "VIDEOIO" in verbose.stderr


def test_a_stream_that_refuses_prints_no_ffmpeg_or_opencv_lines(tmp_path: Path) -> None:
    result = maskwatch("-q", "detect", f"rtsp://127.0.0.1:{free_port()}/stream", "--no-show", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert not [line for line in lines if line.startswith("[")], lines  # [tcp @ 0x...], [ WARN:0@...]
    [failed] = [line for line in lines if line.startswith("failed: ")]
    assert "cannot connect, gave up after 5 reconnects" in failed


def test_training_prints_its_epochs_and_no_tensorflow_lines(tiny_dataset: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    result = maskwatch("train", str(tiny_dataset), "--out", str(tmp_path / "run"), "--no-imagenet",
                       "--image-size", "32", "--blocks", "1", "--epochs", "1", "--fine-tune-epochs", "1",
                       "--batch-size", "8")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.replace("\r", "\n").splitlines()
    assert not [line for line in lines if "absl" in line or "oneDNN" in line or "Assets written" in line
                or "fontManager" in line or line.startswith(("I0000", "W0000", "INFO"))], result.stderr
    assert [line for line in lines if line.startswith("Epoch 1/2")]  # the bar of each epoch, headed
    assert [line.split(":")[0] for line in lines if line.startswith("epoch ")] == ["epoch 1/2", "epoch 2/2"]
    assert result.stdout.splitlines()[0].startswith("test accuracy")  # stdout: the result, no Keras bar
