"""`maskwatch serve`: detection over HTTP (POST /v1/detect) and a browser page that runs it on the live camera.

Models load once at start-up. Inference runs on a thread pool (onnxruntime and LiteRT release the GIL) with
one MaskDetector per thread, because a LiteRT interpreter must not be used by two threads at once.

Slow or vanishing clients are bounded, here and in `watch`: a request's head must arrive within
HEAD_TIMEOUT_S, an upload's body within the body timeout (else 408), an idle keep-alive connection is
closed after KEEP_ALIVE_S, and past LIMIT_CONCURRENCY connections new requests get 503. A client that
goes away mid-upload is a debug line, not an error.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

import h11
import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive
from uvicorn.protocols.http.h11_impl import H11Protocol

from maskwatch.io.images import TooManyPixels, UnreadableImage, decode_image
from maskwatch.vision.pipeline import MaskDetector
from maskwatch.web.auth import allowed_hosts, require_host, require_token

log = logging.getLogger(__name__)

DetectorFactory = Callable[[int], MaskDetector]  # called with the number of inference threads per detector
STATIC = Path(str(files("maskwatch") / "web" / "static"))
HEAD_TIMEOUT_S = 10.0  # request line and headers, from the connection or the previous response
BODY_TIMEOUT_S = 60.0  # default of --body-timeout: a 10 MB upload needs 1.4 Mbit/s
KEEP_ALIVE_S = 5  # an idle connection between requests (uvicorn's timeout_keep_alive)
LIMIT_CONCURRENCY = 500  # connections and requests at once; more get 503 (uvicorn's limit_concurrency)
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


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's head: uvicorn itself times out only the
    idle wait after a response, and any byte cancels that, so a client that connects and sends nothing, or
    a header a byte at a time, would hold its connection forever."""

    head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def on_response_complete(self) -> None:
        self._await_head()  # before: a pipelined request that the parent handles now cancels it
        super().on_response_complete()

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a request's head arrived
            self._cancel_head_timer()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._cancel_head_timer()  # the connection is the WebSocket protocol's from now on
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        self._cancel_head_timer()
        self.head_timer = self.loop.call_later(HEAD_TIMEOUT_S, self._head_late)

    def _cancel_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_late(self) -> None:
        log.debug("%s: no complete request within %g s; closing the connection", self.client, HEAD_TIMEOUT_S)
        self.transport.close()  # connection_lost tells h11


# For uvicorn.run and uvicorn.Config: the bounds on slow and idle clients of the module's docstring.
UVICORN_OPTIONS = {"http": BoundedH11Protocol, "timeout_keep_alive": KEEP_ALIVE_S,
                   "limit_concurrency": LIMIT_CONCURRENCY}


def _limited(receive: Receive, limit: int, timeout_s: float) -> Receive:
    """Count the body as it arrives, so a chunked or lying client gets no further than the limit, and give
    up on a body not all there within `timeout_s` (from the first read), so a slow client cannot hold a
    request open."""
    seen = 0
    deadline = asyncio.get_running_loop().time() + timeout_s

    async def limited_receive() -> Message:
        nonlocal seen
        try:
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            raise HTTPException(408, f"the body did not arrive within {timeout_s:g} s",
                                headers={"Connection": "close"}) from None
        seen += len(message.get("body", b""))
        if seen > limit:
            raise HTTPException(413, f"body larger than the limit of {limit} bytes")
        return message

    return limited_receive


async def _read_image(request: Request, limit: int, timeout_s: float) -> tuple[bytes, str]:
    """The uploaded bytes and a name for error messages: raw image/* body or multipart field `file`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body of {declared} bytes is larger than the limit of {limit} bytes")
    request = Request(request.scope, _limited(request.receive, limit, timeout_s))
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
        return decode_image(data, name)
    except TooManyPixels as error:
        raise HTTPException(413, str(error)) from error
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


async def _client_gone(request: Request, error: ClientDisconnect) -> Response:
    """A client that closed before its body was in: nobody to answer, nothing wrong here."""
    log.debug("%s %s: the client went away before sending the whole body", request.method, request.url.path)
    return Response(status_code=400)


async def _internal_error(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"error": f"internal error ({type(error).__name__})"}, 500)


def create_app(detector_factory: DetectorFactory | None = None, max_body: int = 10 * 2**20,
               workers: int | None = None, token: str | None = None, host: str = "127.0.0.1",
               extra_hosts: tuple[str, ...] = (), body_timeout_s: float = BODY_TIMEOUT_S) -> FastAPI:
    """The API and page; `workers` detectors (default: one per core), each on its own thread; with `token`,
    every request but /healthz needs it. `host` is the address served on: with `extra_hosts` it gives the
    names a request's Host header may carry (see auth)."""
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
                             ClientDisconnect: _client_gone, Exception: _internal_error})
    require_token(app, token)
    require_host(app, allowed_hosts(host, extra_hosts))
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
        data, name = await _read_image(request, max_body, body_timeout_s)
        state = request.app.state
        result = await asyncio.get_running_loop().run_in_executor(state.executor, _detect, state.pool, data, name)
        result["timing_ms"]["total"] = (time.perf_counter() - start) * 1000
        result["timing_ms"] = {k: round(v, 1) for k, v in result["timing_ms"].items()}
        return result

    return app
