"""Per-request context as pure ASGI middleware: a request id, one log line, the request metrics.

The log line holds the id, method, path, status and time only: never a body,
a query string or a header (uploads are people's faces).
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from fer_app.api.metrics import Metrics

log = logging.getLogger("fer_app.api")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestContext:
    def __init__(self, app, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-request-id"), "")
        rid = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        status = 500
        started = time.perf_counter()

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            # The route's template, not the path: job ids would make one series per job.
            name = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_request(scope["method"], name, status, seconds)
            log.info("%s %s %s %d %.1f ms", rid, scope["method"], scope["path"] if route else "-", status, seconds * 1000)
