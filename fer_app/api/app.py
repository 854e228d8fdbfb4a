"""The app factory: routes, error handlers, middleware, and the start-up warm-up behind /readyz."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response

import fer_app
from fer_app.api import images, videos
from fer_app.api.auth import bearer_dependency
from fer_app.api.context import RequestContext
from fer_app.api.jobs import JobStore
from fer_app.api.metrics import Metrics
from fer_app.api.pool import ImagePool
from fer_app.api.problems import Problem, ProblemDetails, install_handlers, problem_responses
from fer_app.api.schemas import Health, Ready
from fer_app.api.settings import Settings

log = logging.getLogger("fer_app.api")

DESCRIPTION = """Facial emotion recognition as a service: faces, boxes and seven emotion
probabilities for a photo, or a per-second timeline for a video (as an asynchronous job).
Every error is an RFC 9457 `application/problem+json` with a request id. See docs/api.md."""


class _Readiness:
    def __init__(self):
        self.ready = False
        self.models: dict = {}
        self.error: str | None = None


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    metrics = Metrics()
    pool = ImagePool(settings.workers, settings.image_queue, settings.max_faces, settings.max_image_pixels, metrics)
    store = JobStore(settings.video_workers, settings.video_queue, settings.job_ttl_seconds, metrics,
                     settings.max_video_seconds)
    readiness = _Readiness()

    async def warm_up():
        try:
            readiness.models = await asyncio.get_running_loop().run_in_executor(None, pool.warm_up)
            readiness.ready = True
            log.info("models loaded and warmed up: %s", ", ".join(f"{k} {v['sha256'][:12]}" for k, v in readiness.models.items()))
        except Exception as e:  # e.g. a missing model file: /readyz says so, /healthz stays up
            readiness.error = f"{type(e).__name__}: {e}"
            log.error("warm-up failed: %s", readiness.error)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        store.start()
        pool.start()
        task = asyncio.create_task(warm_up()) if settings.warm_up else None
        if task is None:
            readiness.ready = True
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
            store.close()
            pool.close()

    app = FastAPI(title="fer-app API", version=fer_app.__version__, description=DESCRIPTION, lifespan=lifespan,
                  responses=problem_responses(500))
    app.state.settings, app.state.pool, app.state.jobs, app.state.metrics = settings, pool, store, metrics
    app.state.readiness = readiness
    install_handlers(app)

    protected = [Depends(bearer_dependency(settings.token))] if settings.token else []
    app.include_router(images.router(settings, pool, protected))
    app.include_router(videos.router(settings, store, protected))

    @app.get("/healthz", response_model=Health, tags=["operations"], summary="The process is alive")
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz", response_model=Ready, tags=["operations"], summary="The models are loaded and warmed up",
             responses=problem_responses(503))
    async def readyz():
        if not readiness.ready:
            detail = f"warm-up failed ({readiness.error})" if readiness.error else "loading and warming up the models"
            raise Problem(503, "not-ready", detail, headers={"Retry-After": "2"})
        return {"status": "ready", "models": {k: {**v, "accurate": k == "accurate"} for k, v in readiness.models.items()}}

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", dependencies=protected,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
                        **problem_responses(401)}, response_class=Response)
    async def prometheus_metrics():
        return Response(metrics.render(), media_type=metrics.content_type)

    def openapi():
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            problem = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(problem.pop("$defs", {}))
            components["ProblemDetails"] = problem
            for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 body, replaced by ours
                components.pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi

    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
                           expose_headers=["Location", "Retry-After", "X-Request-ID"], max_age=600)
    app.add_middleware(RequestContext, metrics=metrics)
    return app
