"""Reading an upload without trusting its size: a multipart `file` part or a raw body, refused (413)
as soon as it passes the limit, whether or not it announced a Content-Length.

Multipart parts larger than 1 MB spool to an anonymous temporary file
(Starlette's UploadFile), which the operating system deletes when it is closed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import BinaryIO

from starlette.datastructures import UploadFile
from starlette.requests import Request

from fer_app.api.problems import Problem

# Room for the multipart boundaries and part headers on top of the file's own limit.
MULTIPART_OVERHEAD = 64 * 1024


class _TooLarge(Exception):
    pass


def _too_large(what: str, limit: int) -> Problem:
    return Problem(413, "too-large", f"{what} is larger than the limit of {limit} bytes")


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _limited(request: Request, limit: int) -> Request:
    """The same request whose body reading fails with _TooLarge past `limit` bytes."""
    received = 0

    async def receive():
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _TooLarge
        return message

    return Request(request.scope, receive)


def _check_declared_length(request: Request, limit: int, what: str) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(what, limit)


async def _stream(request: Request, limit: int, what: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in _limited(request, limit).stream():
            yield chunk
    except _TooLarge:
        raise _too_large(what, limit) from None


async def _form_file(request: Request, limit: int, what: str) -> UploadFile:
    """The multipart `file` part. The caller closes it."""
    total_limit = limit + MULTIPART_OVERHEAD
    _check_declared_length(request, total_limit, what)
    try:
        form = await _limited(request, total_limit).form(max_files=1, max_fields=8)
    except _TooLarge:
        raise _too_large(what, limit) from None
    upload = form.get("file")
    for _name, value in form.multi_items():
        if value is not upload and isinstance(value, UploadFile):
            await value.close()
    if not isinstance(upload, UploadFile):
        raise Problem(422, "invalid-request", "the multipart body has no file part named 'file'")
    if upload.size is not None and upload.size > limit:
        await upload.close()
        raise _too_large(what, limit)
    return upload


def _unsupported(request: Request, accepted: str) -> Problem:
    given = _media_type(request) or "no Content-Type"
    return Problem(415, "unsupported-media", f"{given}: send {accepted}")


async def read_image_bytes(request: Request, limit: int) -> bytes:
    """An image upload's bytes: a multipart `file` part, or a raw image/* body."""
    media_type = _media_type(request)
    if media_type == "multipart/form-data":
        upload = await _form_file(request, limit, "the image")
        try:
            data = await upload.read()
        finally:
            await upload.close()
    elif media_type.startswith("image/"):
        _check_declared_length(request, limit, "the image")
        buffer = bytearray()
        async for chunk in _stream(request, limit, "the image"):
            buffer += chunk
        data = bytes(buffer)
    else:
        raise _unsupported(request, "multipart/form-data with a 'file' part, or an image/* body")
    if not data:
        raise Problem(422, "bad-image", "the upload is empty (0 bytes)")
    return data


async def save_video_upload(request: Request, limit: int, out: BinaryIO) -> int:
    """Copy a multipart `file` part into `out`; returns its size."""
    if _media_type(request) != "multipart/form-data":
        raise _unsupported(request, "multipart/form-data with a 'file' part")
    upload = await _form_file(request, limit, "the video")
    size = 0
    try:
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise _too_large("the video", limit)
            out.write(chunk)
    finally:
        await upload.close()
    if size == 0:
        raise Problem(422, "bad-video", "the upload is empty (0 bytes)")
    return size
