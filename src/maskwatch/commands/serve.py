"""`maskwatch serve`: the HTTP API and the browser page that labels a photo or the camera."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from maskwatch.commands.options import INCORRECT_HELP, positive
from maskwatch.core.errors import InvalidInput
from maskwatch.io.net import TOKEN_ENV, host_name, is_loopback, tls_expiry_warning, tls_problem
from maskwatch.vision.presets import PRESETS

log = logging.getLogger(__name__)


def _host_name(text: str) -> str:
    """An argparse type: a host name or IP address, as a Host header would carry it."""
    try:
        return host_name(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="HTTP API and a browser page with the live camera",
                       description="Serve POST /v1/detect (image body or multipart field 'file' -> faces as JSON), "
                       "GET /healthz, the API docs at /docs and a page at / that labels a photo or the browser's "
                       "camera. Browsers allow the camera only on localhost or over HTTPS.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1). A loopback "
                   "address (127.0.0.0/8, ::1, localhost) keeps it on this machine; any other needs a token in the "
                   "environment variable MASKWATCH_TOKEN")
    p.add_argument("--allowed-host", action="append", type=_host_name, default=[], metavar="NAME",
                   help="a name the server may be reached by (the Host header), repeatable; on a loopback address "
                   "localhost, 127.0.0.1, ::1 and the address itself are allowed anyway, and others get 421. "
                   "Beyond loopback any name is answered unless some are given here")
    p.add_argument("--port", type=int, default=8000, help="default 8000")
    p.add_argument("--max-body-mb", type=positive(float), default=10.0, help="larger uploads get 413 (default 10)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="fast", help="default fast (camera-sized faces)")
    p.add_argument("--model", type=Path, help="a .tflite classifier with labels.json beside it "
                   "(default: the preset's shipped model); " + INCORRECT_HELP)
    p.add_argument("--workers", type=positive(int), help="images processed at once (default: one per core)")
    p.add_argument("--body-timeout", type=positive(float), default=60.0, metavar="S",
                   help="an upload must arrive in full within S seconds, else 408 (default 60)")
    p.add_argument("--cert-file", type=Path, metavar="PEM", help="serve HTTPS with this certificate (and --key-file); "
                   "browsers allow the camera page only on localhost or over HTTPS")
    p.add_argument("--key-file", type=Path, metavar="PEM", help="the certificate's private key (unencrypted PEM)")


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from maskwatch.web import serve

    token = os.environ.get(TOKEN_ENV) or None
    if not is_loopback(args.host) and not token:
        raise InvalidInput(f"--host {args.host} serves beyond this machine: set a token in the environment variable "
                           f"{TOKEN_ENV} (clients send it as 'Authorization: Bearer TOKEN')")
    if (args.cert_file is None) != (args.key_file is None):
        raise InvalidInput("--cert-file and --key-file go together")
    if args.cert_file and (problem := tls_problem(args.cert_file, args.key_file)):
        raise InvalidInput(problem)
    if args.cert_file and (warning := tls_expiry_warning(args.cert_file, args.key_file)):
        log.warning("%s", warning)
    factory = serve.factory_for(args.preset, args.model)
    factory(1)  # a missing or broken model fails here with a one-line error, before the port is taken
    app = serve.create_app(factory, max_body=int(args.max_body_mb * 2**20), workers=args.workers, token=token,
                           host=args.host, extra_hosts=tuple(args.allowed_host), body_timeout_s=args.body_timeout)
    tls = {"ssl_certfile": str(args.cert_file), "ssl_keyfile": str(args.key_file)} if args.cert_file else {}
    scheme = "https" if tls else "http"
    log.info("open %s://%s:%d/ in a browser; API docs at /docs", scheme, args.host, args.port)
    level = "info" if log.isEnabledFor(logging.INFO) else "warning"
    uvicorn.run(app, host=args.host, port=args.port, log_level=level, access_log=log.isEnabledFor(logging.DEBUG),
                **serve.UVICORN_OPTIONS, **tls)
    return 0
