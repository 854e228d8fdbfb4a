"""`python -m fer_app serve`: the HTTP API on uvicorn, one process (one shared ONNX Runtime session)."""

from __future__ import annotations

import dataclasses
import logging


def add_command(sub) -> None:
    p = sub.add_parser("serve", help="run the HTTP API (FastAPI on uvicorn; docs at /docs)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="default: 8000")
    p.add_argument("--no-auth", action="store_true",
                   help="allow listening beyond loopback without FER_API_TOKEN (anyone who reaches the port may use it)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=run_serve)


def run_serve(args) -> int:
    import uvicorn

    from fer_app.api.app import create_app
    from fer_app.api.auth import check_start
    from fer_app.api.settings import Settings

    settings = Settings.from_env()
    if args.no_auth and settings.token:
        settings = dataclasses.replace(settings, token=None)
    check_start(args.host, settings.token, args.no_auth)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The multipart parser's warnings quote bytes of a malformed body; the client gets a 400 saying what failed.
    logging.getLogger("python_multipart").setLevel(logging.ERROR)
    auth = "bearer token required" if settings.token else "no auth"
    logging.getLogger("fer_app.api").info(
        "listening on http://%s:%d (%s; %d image workers, queue %d; CORS %s)", args.host, args.port, auth,
        settings.workers, settings.image_queue, ", ".join(settings.cors_origins) or "off")
    # uvicorn's access log would print query strings; our own line per request (fer_app.api.context) does not.
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level, access_log=False,
                server_header=False, timeout_graceful_shutdown=10)
    return 0
