"""The `maskwatch` command: one entry point, a module per subcommand (each with `add_parser` and `run`).

An error of the user's (a `MaskwatchError`, or a file that is missing or not theirs to read) is printed on one
line with exit 2; anything else is a bug, and shows its traceback (exit 1).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from maskwatch.commands import bench, detect, evaluate, events, mine, serve, synth, train, train_detector, watch
from maskwatch.core.errors import MaskwatchError
from maskwatch.core.version import VERSION

log = logging.getLogger("maskwatch")

# the user's files: a path that is not there, not a folder, or not readable by them
# libraries whose INFO lines are theirs, not the command's ("generated new fontManager", TensorFlow's "Assets
# written to" a temporary folder): heard with -v only
CHATTY_LOGGERS = ("absl", "tensorflow", "matplotlib", "h5py")
FILE_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)
COMMANDS = {"train": train, "train-detector": train_detector, "evaluate": evaluate, "mine": mine, "detect": detect,
            "bench": bench, "serve": serve, "events": events, "watch": watch, "synth": synth}

EXAMPLES = """examples:
  maskwatch detect                         live: camera 0, window with boxes (q quits)
  maskwatch detect photos/ --save out/ --json out/faces.jsonl
  maskwatch detect archive/ --ray auto --json out/faces.jsonl   a folder of videos on a Ray cluster, resumable
  maskwatch detect entrance.mp4 --events events.db   persons, mask on/off events and snapshots in SQLite
  maskwatch events events.db --summary      people per hour by state, and the compliance rate
  maskwatch watch site.toml                 many cameras, alerts over MQTT / webhooks, metrics and a site page
  maskwatch train dataset/ --out runs/mine  train a classifier on dataset/with_mask, dataset/without_mask
  maskwatch train-detector scenes/ --out runs/det   fine-tune the face detector on Pascal VOC scenes
  maskwatch evaluate dataset/ --model runs/mine/model.tflite --json
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maskwatch", description="Find faces and tell whether each wears a mask; train the classifier.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"maskwatch {VERSION}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, with tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS.values():
        command.add_parser(sub)
    return parser


def _quiet_opencv() -> None:
    """OpenCV and the FFmpeg inside it print warnings of their own (a dozen lines for a missing camera)
    before maskwatch says in one line what went wrong: they show only with -v. Set in the environment too,
    for the worker processes, which import cv2 afresh; a level the user set is kept."""
    import cv2

    if "OPENCV_LOG_LEVEL" not in os.environ:
        os.environ["OPENCV_LOG_LEVEL"] = "SILENT"
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET; read when FFmpeg is first used


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s",
                        stream=sys.stderr)
    if not args.verbose:
        _quiet_opencv()
        for chatty in CHATTY_LOGGERS:
            logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        return COMMANDS[args.command].run(args)
    except (MaskwatchError, *FILE_ERRORS) as error:
        log.debug("traceback", exc_info=True)
        print(f"maskwatch {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"maskwatch {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout went away (`| head -1`): stop quietly, as a pipe's writer does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit either
        return 128 + signal.SIGPIPE
