"""RFC 9457 problem details: every error the service answers is application/problem+json with a request id.

Route code raises `Problem`; the handlers installed by `install_handlers` also
turn FastAPI's and Starlette's own errors (404, 405, 422, a malformed
multipart body) and any unexpected exception into problems, so no answer ever
carries a traceback. `problem_responses(...)` declares them in the OpenAPI schema.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("fer_app.api")

# The `type` of each kind of problem (documented in docs/api.md); plain HTTP errors use about:blank.
TYPES = {
    "unauthorized": "urn:fer-app:problem:unauthorized",
    "too-large": "urn:fer-app:problem:too-large",
    "unsupported-media": "urn:fer-app:problem:unsupported-media",
    "bad-image": "urn:fer-app:problem:bad-image",
    "bad-video": "urn:fer-app:problem:bad-video",
    "too-many-faces": "urn:fer-app:problem:too-many-faces",
    "invalid-request": "urn:fer-app:problem:invalid-request",
    "busy": "urn:fer-app:problem:busy",
    "not-ready": "urn:fer-app:problem:not-ready",
    "not-found": "urn:fer-app:problem:not-found",
    "internal": "urn:fer-app:problem:internal",
}


# RFC 9110's names where Python's http module still has the older ones.
_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}


def _title(status: int) -> str:
    return _TITLES.get(status) or HTTPStatus(status).phrase


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="where: e.g. ['query', 'accurate']")
    msg: str
    type: str


class ProblemDetails(BaseModel):
    """An RFC 9457 problem."""

    type: str = Field(description="a URI naming the kind of problem (listed in docs/api.md), or about:blank")
    title: str = Field(description="short summary of the kind of problem")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="what went wrong with this request, in one line")
    instance: str = Field(description="the request's path")
    request_id: str = Field(description="also in the X-Request-ID header and the server's log")
    errors: list[ValidationIssue] | None = Field(default=None, description="for 422 from parameter validation")


class Problem(Exception):
    def __init__(self, status: int, kind: str, detail: str, headers: dict[str, str] | None = None, title: str | None = None):
        super().__init__(detail)
        self.status, self.kind, self.detail = status, kind, detail
        self.headers = headers or {}
        self.title = title or _title(status)


def request_id(request: Request) -> str:
    return getattr(request.state, "request_id", None) or "-"


def problem_response(request: Request, status: int, kind: str | None, detail: str, headers: dict | None = None,
                     title: str | None = None, errors: list | None = None) -> JSONResponse:
    rid = request_id(request)
    body = {
        "type": TYPES.get(kind, "about:blank") if kind else "about:blank",
        "title": title or _title(status),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": rid,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers={**(headers or {}), "X-Request-ID": rid})


def _validation_issues(exc: RequestValidationError) -> list[dict]:
    # Only where and what: pydantic's "input" and "ctx" would echo what the client sent.
    return [{"loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
             "type": str(e.get("type", ""))} for e in exc.errors()]


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return problem_response(request, exc.status, exc.kind, exc.detail, exc.headers, exc.title)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        issues = _validation_issues(exc)
        where = ", ".join(".".join(str(p) for p in i["loc"]) + ": " + i["msg"] for i in issues[:3])
        return problem_response(request, 422, "invalid-request", f"invalid request ({where})", errors=issues)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        kind = {404: "not-found", 401: "unauthorized"}.get(exc.status_code)
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such resource: {request.url.path}"
        return problem_response(request, exc.status_code, kind, detail, dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        # The traceback goes to the server's log only (it never holds image content: routes log none).
        log.error("request %s failed: %s", request_id(request), type(exc).__name__, exc_info=exc)
        return problem_response(request, 500, "internal", "internal error; quote the request id when reporting it")


def problem_responses(*statuses: int) -> dict:
    """OpenAPI `responses` entries for these statuses, all application/problem+json."""
    out = {}
    for status in statuses:
        entry = {"description": _title(status),
                 "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}}
        if status in (503,):
            entry["headers"] = {"Retry-After": {"description": "seconds to wait before trying again",
                                                "schema": {"type": "integer"}}}
        if status == 401:
            entry["headers"] = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}
        out[status] = entry
    return out
