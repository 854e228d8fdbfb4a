"""POST /v1/images:analyze: faces and their emotions in one photo."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from fer_app import engine
from fer_app.api.problems import problem_responses, request_id
from fer_app.api.schemas import DetectorName, ImageAnalysis
from fer_app.detect import resolve_detector_name

BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {"type": "object", "required": ["file"],
                       "properties": {"file": {"type": "string", "format": "binary", "description": "the photo"}}},
        },
        "image/*": {"schema": {"type": "string", "format": "binary"}},
    },
}


def router(settings, pool, dependencies) -> APIRouter:
    from fer_app.api.uploads import read_image_bytes

    api = APIRouter(dependencies=dependencies)
    default_accurate = engine.accurate_default(still=True)

    @api.post(
        "/v1/images:analyze",
        response_model=ImageAnalysis,
        summary="Find the faces in a photo and label their emotions",
        description=(
            "Send the photo as a multipart `file` part or as the raw body with its `image/*` type. "
            f"At most {settings.max_image_bytes} bytes and {settings.max_image_pixels} pixels; "
            f"more than {settings.max_faces} faces is refused. No face: 200 with an empty list."
        ),
        openapi_extra={"requestBody": BODY},
        responses=problem_responses(400, 401, 413, 415, 422, 500, 503),
        tags=["images"],
    )
    async def analyze_image(
        request: Request,
        accurate: bool = Query(default_accurate, description="the accurate ensemble (default for photos) or, "
                                                              "false, the fast live model"),
        detector: Annotated[DetectorName | None, Query(description="the face detector (default: the one "
                                                                   "measured best for photos)")] = None,
    ):
        used, fallback = resolve_detector_name(detector, still=True)
        arrived = time.perf_counter()
        with pool.slot() as place:
            data = await read_image_bytes(request, settings.max_image_bytes)
            done = await pool.analyze(place, data, accurate, used)
        del data
        result = done.result
        body = {
            "faces": [face.to_dict() for face in result.faces],
            "width": result.width,
            "height": result.height,
            "model": {**done.model, "accurate": done.accurate},
            "detector": used,
            "notes": done.notes + ([fallback] if fallback else []),
            "timing": {
                "queued_ms": round(done.queued_ms, 2),
                "decode_ms": round(done.decode_ms, 2),
                "analyze_ms": round(done.analyze_ms, 2),
                "total_ms": round((time.perf_counter() - arrived) * 1000, 2),
            },
            "request_id": request_id(request),
        }
        return JSONResponse(body)

    return api
