"""`maskwatch serve`: detection over HTTP (POST /v1/detect) and a browser page that runs it on the live camera.

Models load once at start-up. Inference runs on a thread pool (onnxruntime and LiteRT release the GIL) with
one MaskDetector per thread, because a LiteRT interpreter must not be used by two threads at once.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import queue
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from PIL import Image
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive

from maskwatch.io.images import UnreadableImage, decode_image
from maskwatch.vision.pipeline import MaskDetector
from maskwatch.web.auth import TOKEN_ENV, is_loopback, require_token

log = logging.getLogger(__name__)

DetectorFactory = Callable[[int], MaskDetector]  # called with the number of inference threads per detector
STATIC = Path(str(files("maskwatch") / "web" / "static"))
# A few KB of PNG can declare gigapixels: the header is checked before decoding (64 MP covers phone photos).
MAX_PIXELS = 64_000_000
RAW_TYPES = ("image/", "application/octet-stream")
_BINARY = {"type": "string", "format": "binary"}
_ERROR = {"content": {"application/json": {"example": {"error": "message"}}}}
DETECT_DOC = {"requestBody": {"required": True, "content": {
    "image/*": {"schema": _BINARY},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {"file": _BINARY}}},
}}}
DETECT_RESPONSES = {
    400: {"description": "not a readable image", **_ERROR},
    413: {"description": "body or image too large", **_ERROR},
    415: {"description": "neither image/* nor multipart/form-data", **_ERROR},
}


def factory_for(preset: str = "fast", model: str | Path | None = None) -> DetectorFactory:
    """Detectors with the preset and model, each made with the thread count it is given."""
    return lambda threads: MaskDetector(preset, model, threads=threads)


def _limited(receive: Receive, limit: int) -> Receive:
    """Count the body as it arrives, so a chunked or lying client gets no further than the limit."""
    seen = 0

    async def limited_receive() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise HTTPException(413, f"body larger than the limit of {limit} bytes")
        return message

    return limited_receive


async def _read_image(request: Request, limit: int) -> tuple[bytes, str]:
    """The uploaded bytes and a name for error messages: raw image/* body or multipart field `file`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body of {declared} bytes is larger than the limit of {limit} bytes")
    request = Request(request.scope, _limited(request.receive, limit))
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind == "multipart/form-data":
        async with request.form(max_files=1, max_fields=16, max_part_size=limit) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise HTTPException(400, "multipart body has no file field named 'file'")
            return await upload.read(), upload.filename or "file"
    if kind.startswith(RAW_TYPES):
        return await request.body(), "body"
    raise HTTPException(415, f"unsupported content type {kind or '(none)'!r}: send the image as the body with "
                        "Content-Type image/* or as the multipart/form-data field 'file'")


def _decode(data: bytes, name: str) -> np.ndarray:
    if not data:
        raise HTTPException(400, f"{name}: empty")
    try:
        with Image.open(io.BytesIO(data)) as header:
            width, height = header.size
    except Image.DecompressionBombError as error:
        raise HTTPException(413, f"{name}: more pixels than the limit of {MAX_PIXELS}") from error
    except (OSError, ValueError, SyntaxError) as error:
        raise HTTPException(400, f"{name}: not a readable image") from error
    if width * height > MAX_PIXELS:
        raise HTTPException(413, f"{name}: {width}x{height} pixels is more than the limit of {MAX_PIXELS}")
    try:
        return decode_image(data, name)
    except UnreadableImage as error:
        raise HTTPException(400, str(error)) from error


def _detect(pool: queue.SimpleQueue[MaskDetector], data: bytes, name: str) -> dict:
    """Runs on a pool thread: decode, then detect with a detector no other thread is using."""
    start = time.perf_counter()
    image = _decode(data, name)
    decoded = time.perf_counter()
    detector = pool.get()
    try:
        faces = detector(image)
    finally:
        pool.put(detector)
    return {"faces": [face.to_json() for face in faces], "width": image.shape[1], "height": image.shape[0],
            "timing_ms": {"decode": (decoded - start) * 1000, "detect": (time.perf_counter() - decoded) * 1000}}


async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    return JSONResponse({"error": str(error.detail)}, error.status_code, headers=error.headers)


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
    return JSONResponse({"error": reasons}, 422)


async def _internal_error(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"error": f"internal error ({type(error).__name__})"}, 500)


def create_app(detector_factory: DetectorFactory | None = None, max_body: int = 10 * 2**20,
               workers: int | None = None, token: str | None = None) -> FastAPI:
    """The API and page; `workers` detectors (default: one per core), each on its own thread; with `token`,
    every request but /healthz needs it."""
    factory = detector_factory or factory_for()
    workers = workers or os.cpu_count() or 1
    # Measured on 2 cores, 640x480 frames: 2 detectors x 1 thread served 33 requests/s from 16 clients, 1 x 2
    # threads 25/s, 2 x 2 threads 13/s (oversubscribed); a lone 2-thread detector halves its speed when another
    # process holds a core. One thread per detector, then, unless there is just one detector.
    threads = 1 if workers > 1 else os.cpu_count() or 1

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        detectors = await asyncio.to_thread(lambda: [factory(threads) for _ in range(workers)])
        # The detector builds a session per input size: make the one for 640x480 camera frames now.
        await asyncio.to_thread(detectors[0], np.zeros((480, 640, 3), np.uint8))
        app.state.pool = queue.SimpleQueue()
        for detector in detectors:
            app.state.pool.put(detector)
        app.state.info = {"model": str(detectors[0].classifier.path), "labels": detectors[0].classifier.labels}
        log.info("serving with %d detector(s), %d inference thread(s) each", workers, threads)
        with ThreadPoolExecutor(workers, thread_name_prefix="maskwatch-detect") as executor:
            app.state.executor = executor
            yield

    app = FastAPIOffline(title="maskwatch", summary="Find faces and tell whether each wears a mask.",
                         lifespan=lifespan, exception_handlers={
                             HTTPException: _http_error, RequestValidationError: _validation_error,
                             Exception: _internal_error})
    require_token(app, token)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/healthz")
    async def healthz(request: Request) -> dict:
        return {"status": "ok", **request.app.state.info, "workers": workers}

    @app.post("/v1/detect", openapi_extra=DETECT_DOC, responses=DETECT_RESPONSES)
    async def detect(request: Request) -> dict:
        """Faces in the image with box (x1, y1, x2, y2 in pixels), score, label, confidence and probs."""
        start = time.perf_counter()
        data, name = await _read_image(request, max_body)
        state = request.app.state
        result = await asyncio.get_running_loop().run_in_executor(state.executor, _detect, state.pool, data, name)
        result["timing_ms"]["total"] = (time.perf_counter() - start) * 1000
        result["timing_ms"] = {k: round(v, 1) for k, v in result["timing_ms"].items()}
        return result

    return app


def run(args: argparse.Namespace) -> int:
    import uvicorn

    token = os.environ.get(TOKEN_ENV) or None
    if not is_loopback(args.host) and not token:
        raise ValueError(f"--host {args.host} serves beyond this machine: set a token in the environment variable "
                         f"{TOKEN_ENV} (clients send it as 'Authorization: Bearer TOKEN')")
    factory = factory_for(args.preset, args.model)
    factory(1)  # a missing or broken model fails here with a one-line error, before the port is taken
    app = create_app(factory, max_body=int(args.max_body_mb * 2**20), workers=args.workers, token=token)
    log.info("open http://%s:%d/ in a browser; API docs at /docs", args.host, args.port)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info" if log.isEnabledFor(logging.INFO) else "warning",
                access_log=log.isEnabledFor(logging.DEBUG))
    return 0
