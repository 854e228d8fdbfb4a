"""/v1/videos: a video analysed as an asynchronous job (submit, poll, fetch the result, delete)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse

from fer_app import engine
from fer_app.api.jobs import JobStore, QueueFull
from fer_app.api.problems import Problem, problem_responses
from fer_app.api.schemas import DetectorName, VideoJob
from fer_app.detect import resolve_detector_name

BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {"type": "object", "required": ["file"],
                       "properties": {"file": {"type": "string", "format": "binary", "description": "the video"}}},
        },
    },
}
JOB_ID = PathParam(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="the id from the submission")


def probe(path: Path, max_seconds: float) -> int | None:
    """Refuse what is not a video (415) or is longer than allowed (413) from its container's header.
    Returns the most frames the worker may decode (None when the container gives no rate)."""
    import av

    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, ValueError):
        raise Problem(415, "unsupported-media", "not a video, or a format this service cannot read") from None
    with container:
        fmt = container.format.name
        if fmt == "image2" or fmt.endswith("_pipe") or not container.streams.video:
            raise Problem(415, "unsupported-media", "no video stream (a still image, or audio only)")
        stream = container.streams.video[0]
        seconds = None
        if container.duration:
            seconds = container.duration / 1_000_000
        elif stream.duration and stream.time_base:
            seconds = float(stream.duration * stream.time_base)
        if seconds is not None and seconds > max_seconds:
            raise Problem(413, "too-large", f"the video lasts {seconds:.0f} s; the limit is {max_seconds:g} s")
        rate = stream.average_rate or stream.guessed_rate
        return int(max_seconds * float(rate) * 1.05) + 1 if rate else None


def router(settings, store: JobStore, dependencies) -> APIRouter:
    from fer_app.api.uploads import save_video_upload

    api = APIRouter(dependencies=dependencies, tags=["videos"])
    default_accurate = engine.accurate_default(still=False)
    uploading = [0]  # changed on the event loop only

    @api.post(
        "/v1/videos",
        status_code=202,
        response_model=VideoJob,
        summary="Start analysing a video",
        description=(
            "Send the video as a multipart `file` part. The answer is the job (202) with its URL in `Location`; "
            f"poll it until `status` is `succeeded` or `failed`. At most {settings.max_video_bytes} bytes and "
            f"{settings.max_video_seconds:g} seconds. Results are kept {settings.job_ttl_seconds:g} s after the job ends."
        ),
        openapi_extra={"requestBody": BODY},
        responses={202: {"headers": {"Location": {"description": "the job's URL", "schema": {"type": "string"}}}},
                   **problem_responses(400, 401, 413, 415, 422, 500, 503)},
    )
    async def submit_video(
        request: Request,
        accurate: bool = Query(default_accurate, description="the accurate ensemble instead of the fast model "
                                                              "(the default for videos); much slower"),
        fps: float | None = Query(None, gt=0, le=120, description="analyse at most this many frames a second "
                                                                   "(default: every frame)"),
        detector: Annotated[DetectorName | None, Query(description="the face detector (default: the one "
                                                                   "measured best for video)")] = None,
    ):
        used, _ = resolve_detector_name(detector, still=False)
        # Uploads in progress count against the queue too: they will need a place in it.
        if store.waiting() + uploading[0] >= settings.video_queue:
            store.metrics.rejected.labels("video").inc()
            raise Problem(503, "busy", "the video queue is full; try again later",
                          headers={"Retry-After": str(store.retry_after())})
        folder = store.new_folder()
        uploading[0] += 1
        try:
            with open(folder / "upload", "wb") as out:
                await save_video_upload(request, settings.max_video_bytes, out)
            loop = asyncio.get_running_loop()
            max_frames = await loop.run_in_executor(None, probe, folder / "upload", settings.max_video_seconds)
            job = store.submit(folder, accurate, fps, max_frames, used)
        except QueueFull:
            shutil.rmtree(folder, ignore_errors=True)
            raise Problem(503, "busy", "the video queue is full; try again later",
                          headers={"Retry-After": str(store.retry_after())}) from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            uploading[0] -= 1
        location = str(request.url_for("get_video_job", job_id=job.id).path)
        return JSONResponse(job.to_dict(), status_code=202, headers={"Location": location})

    @api.get("/v1/videos/{job_id}", name="get_video_job", response_model=VideoJob, summary="A job's status and result",
             responses=problem_responses(401, 404, 422, 500))
    async def get_video_job(job_id: str = JOB_ID):
        job = store.get(job_id)
        if job is None:
            raise Problem(404, "not-found", "no such job (never made, deleted, or expired)")
        return JSONResponse(job.to_dict())

    @api.delete("/v1/videos/{job_id}", status_code=204, summary="Delete a job, its files and its result "
                "(stops it if running)", responses=problem_responses(401, 404, 422, 500))
    async def delete_video_job(job_id: str = JOB_ID):
        if not store.delete(job_id):
            raise Problem(404, "not-found", "no such job (never made, deleted, or expired)")
        return Response(status_code=204)

    return api
