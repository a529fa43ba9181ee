"""The manifest of a resumable run: which files are finished, so a rerun after a crash or Ctrl-C skips them.

A JSON Lines file next to the outputs (`OUT.manifest`). A `run` line opens each attempt, with its event
store run number; a `file` line is appended, and fsynced, only after every output of that file is written:
its JSON Lines records (with the byte offset the JSON Lines file had then), its events committed, its
annotated copy renamed into place, and its share of the summary. On resume the JSON Lines file is cut back
to the last offset (records of a file that did not finish go), and the events that earlier attempts
recorded for files that did not finish are deleted, so nothing appears twice and nothing is lost.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

SUFFIX = ".manifest"


@dataclass
class Manifest:
    path: Path
    finished: dict[str, dict] = field(default_factory=dict)  # file -> its line
    runs: list[int] = field(default_factory=list)  # event store runs of earlier attempts
    json_bytes: int = 0  # the JSON Lines file's size when the last file finished

    @classmethod
    def for_outputs(cls, json: str | None, events: Path | None, save: Path | None, summary: Path | None
                    ) -> Manifest | None:
        """The manifest beside the first file output (none when the only output is stdout)."""
        if json and json != "-":
            return cls.load(Path(json + SUFFIX))
        for output in (events, summary):
            if output:
                return cls.load(Path(str(output) + SUFFIX))
        return cls.load(save / ("maskwatch" + SUFFIX)) if save else None

    @classmethod
    def load(cls, path: Path) -> Manifest:
        manifest = cls(path)
        if not path.exists():
            return manifest
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line cut by a crash: that file did not finish
                continue
            if record.get("kind") == "run" and record.get("run") is not None:
                manifest.runs.append(record["run"])
            elif record.get("kind") == "file":
                manifest.finished[record["file"]] = record
                manifest.json_bytes = record.get("json_bytes", 0)
        return manifest

    def _append(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")
            file.flush()
            os.fsync(file.fileno())

    def start(self, run: int | None) -> None:
        self._append({"kind": "run", "run": run})

    def finish(self, file: str, json_bytes: int, counts: dict, failures: list[str]) -> None:
        record = {"kind": "file", "file": file, "json_bytes": json_bytes, "counts": counts, "failures": failures}
        self._append(record)
        self.finished[file] = record
        self.json_bytes = json_bytes
