"""Load test of `maskwatch serve` on this machine: latency percentiles, throughput and errors under concurrency.

Starts `maskwatch serve` on a free loopback port (or uses --url of a local one; other hosts are refused, this
is not a tool for loading someone else's server), sends a bounded number of camera-sized JPEG frames from
concurrent clients and exits 1 if any request failed.

    python benchmarks/load_serve.py --requests 400 --clients 16 [--workers 2] [--model runs/x/model.tflite]
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from urllib.parse import urlsplit

import cv2
import httpx
import numpy as np
from skimage import data


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost is not resolved: it could point anywhere


@contextmanager
def local_server(args: argparse.Namespace) -> Iterator[str]:
    """`maskwatch serve` in a child process (its own GIL, as in production); stopped on the way out."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "maskwatch", "-q", "serve", "--port", str(port), "--preset", args.preset]
    command += ["--workers", str(args.workers)] if args.workers else []
    command += ["--model", args.model] if args.model else []
    server = subprocess.Popen(command)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                raise SystemExit(f"the server exited with code {server.returncode}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not answer /healthz within 120 s")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(30)


def camera_frame() -> bytes:
    """A 640x480 JPEG with one face, like the frames the page sends."""
    frame = np.full((480, 640, 3), 128, np.uint8)
    frame[:, 80:560] = cv2.resize(data.astronaut(), (480, 480), interpolation=cv2.INTER_AREA)
    return cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()


def load(url: str, requests: int, clients: int) -> dict:
    body, lock = camera_frame(), threading.Lock()
    remaining, latencies, server_ms, errors = [requests], [], [], []

    def client(_: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            while True:
                with lock:
                    if remaining[0] == 0:
                        return
                    remaining[0] -= 1
                start = time.perf_counter()
                failure, result = None, {}
                try:
                    response = http.post("/v1/detect", content=body, headers={"Content-Type": "image/jpeg"})
                    result = response.json()
                    if response.status_code != 200 or len(result["faces"]) != 1:
                        failure = f"HTTP {response.status_code}: {response.text[:200]}"
                except (httpx.HTTPError, ValueError, KeyError) as error:
                    failure = repr(error)
                elapsed = time.perf_counter() - start
                with lock:
                    if failure:
                        errors.append(failure)
                    else:
                        latencies.append(elapsed * 1000)
                        server_ms.append(result["timing_ms"]["detect"])

    httpx.post(f"{url}/v1/detect", content=body, headers={"Content-Type": "image/jpeg"}, timeout=60)  # warm-up
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    wall = time.perf_counter() - start
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    return {"requests": requests, "clients": clients, "errors": len(errors), "first_error": errors[:1],
            "seconds": round(wall, 2), "requests_per_s": round(requests / wall, 2),
            "p50_ms": round(cuts[49], 1), "p95_ms": round(cuts[94], 1), "p99_ms": round(cuts[98], 1),
            "server_detect_ms_mean": round(statistics.fmean(server_ms), 1) if server_ms else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running local server, e.g. http://127.0.0.1:8000 (default: start one)")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, help="for the server started here (default: its own)")
    parser.add_argument("--preset", default="fast", help="for the server started here")
    parser.add_argument("--model", help="for the server started here (default: the shipped model)")
    args = parser.parse_args()
    if args.url and not is_loopback(args.url):
        parser.error(f"{args.url}: only loopback addresses (127.0.0.0/8, ::1, localhost) may be loaded")
    if not 0 < args.requests <= 10_000 or not 0 < args.clients <= 64:
        parser.error("keep it bounded: 1-10000 requests from 1-64 clients")
    with local_server(args) if args.url is None else nullcontext(args.url.rstrip("/")) as url:
        report = load(url, args.requests, args.clients)
    print(" ".join(f"{key}={value}" for key, value in report.items()))
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
