"""`maskwatch detect SOURCE --ray`: the driver. It hands the files to Ray actors (`cluster.archive`) and
writes every output (JSON Lines, events, summary) in the order of a single-process run, as soon as the files
before it are done, resuming from the manifest of an earlier attempt."""

from __future__ import annotations

import logging
from contextlib import ExitStack, closing
from dataclasses import replace

from tqdm import tqdm

from maskwatch.cluster import require_ray
from maskwatch.cluster.archive import RESTARTS, FileResult, FileWorker, ResumableJsonLines, connect
from maskwatch.cluster.manifest import Manifest
from maskwatch.commands.detect import DetectOptions, Outputs, report, validate
from maskwatch.core.errors import InvalidInput
from maskwatch.io.sinks import Summary
from maskwatch.io.sources import FileSource, open_source
from maskwatch.vision.presets import preset_for

log = logging.getLogger(__name__)


def run_detect_ray(options: DetectOptions, address: str) -> int:
    validate(options)
    if options.show:
        raise InvalidInput("--show does not go with --ray: the frames are processed on other machines")
    source = open_source(options.source)
    if not isinstance(source, FileSource):
        raise InvalidInput("--ray runs folders and files (SOURCE: a folder, a file or @LIST); cameras and streams "
                         "run on a cluster with `maskwatch watch --ray`")
    ray = require_ray()

    manifest = Manifest.for_outputs(options.json, options.events, options.save, options.summary)
    finished = manifest.finished if manifest else {}
    pending = [(str(path), str(relative)) for path, relative in source.items if str(path) not in finished]
    settings = replace(options.analysis, preset=options.analysis.preset or preset_for(live=False))
    # the folders that could not be listed, then what finished files of an earlier attempt reported
    failures = source.failures + [f for record in finished.values() for f in record["failures"]]
    started = connect(address) if pending else False
    with ExitStack() as stack:
        if started:
            stack.callback(ray.shutdown)
        outputs = Outputs(replace(options, json=None), stack, live=False, show=False, save=False)
        for record in finished.values():
            outputs.summary.merge(record["counts"])
        if finished:
            log.info("resuming: %d of %d file(s) finished before (%s)", len(finished), len(source.items),
                     manifest.path)
        if outputs.store is not None:
            outputs.store.delete_unfinished(manifest.runs, list(finished))
        jsonl = None
        if options.json:
            keep = manifest.json_bytes if manifest else 0
            jsonl = stack.enter_context(closing(ResumableJsonLines(options.json, keep)))
        if manifest:
            manifest.start(outputs.store.run if outputs.store else None)
        if not pending:
            return report(options, outputs.summary, failures)
        done_frames = sum(r["counts"]["images"] + r["counts"]["frames"] for r in finished.values())
        total = None if source.total is None else max(0, source.total - done_frames)
        progress = stack.enter_context(tqdm(total=total, unit="frame", desc=f"Detecting ({len(pending)} files)"))
        size = max(1, min(len(pending), int(ray.available_resources().get("CPU", 1))))
        actor = ray.remote(num_cpus=1, **RESTARTS)(FileWorker)
        actors = [actor.remote(settings, options.save) for _ in range(size)]
        stack.callback(lambda: [ray.kill(a) for a in actors])
        log.info("%d file(s) on %d Ray actor(s), %s preset", len(pending), size, settings.preset)
        pool = ray.util.ActorPool(actors)
        for item in pending:
            pool.submit(lambda a, item: a.run.remote(*item), item)
        order = {file: i for i, (file, _) in enumerate(pending)}
        ready: dict[int, FileResult] = {}
        next_index = 0
        while pool.has_next():
            result: FileResult = pool.get_next_unordered()
            ready[order[result.file]] = result
            while next_index in ready:  # write in the order of a single-process run
                result = ready.pop(next_index)
                per_file = Summary()
                for step in result.steps:
                    events = [outputs.store.add(e) if outputs.store else e for e in step.events]
                    per_file.add(step.frame, step.faces, events)
                    if jsonl:
                        jsonl.write(step, events)
                    progress.update()
                outputs.summary.merge(per_file.counts())
                failures += result.failures
                if manifest:
                    manifest.finish(result.file, jsonl.sync() if jsonl else 0, per_file.counts(), result.failures)
                next_index += 1
            progress.set_postfix(files=f"{next_index}/{len(pending)}")
    return report(options, outputs.summary, failures)
