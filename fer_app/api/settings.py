"""The service's limits and switches, read from FER_API_* environment variables with safe defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from fer_app import media
from fer_app.errors import FerError

MB = 1024 * 1024


def _default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class Settings:
    token: str | None = None  # FER_API_TOKEN: bearer token; None = no auth (loopback or --no-auth only)
    workers: int = field(default_factory=_default_workers)  # FER_API_WORKERS: image analyses at once
    queue: int | None = None  # FER_API_QUEUE: image requests that may wait for a worker (default 2 x workers)
    max_image_bytes: int = 20 * MB  # FER_API_MAX_IMAGE_BYTES
    max_image_pixels: int = media.MAX_PIXELS  # FER_API_MAX_IMAGE_PIXELS (at most the engine's cap)
    max_faces: int = 100  # FER_API_MAX_FACES: more faces found in one image is a 422
    max_video_bytes: int = 200 * MB  # FER_API_MAX_VIDEO_BYTES
    max_video_seconds: float = 600.0  # FER_API_MAX_VIDEO_SECONDS
    video_workers: int = 1  # FER_API_VIDEO_WORKERS: jobs analysed at once
    video_queue: int = 4  # FER_API_VIDEO_QUEUE: jobs that may wait
    job_ttl_seconds: float = 3600.0  # FER_API_JOB_TTL_SECONDS: how long a finished job's result is kept
    cors_origins: tuple[str, ...] = ()  # FER_API_CORS_ORIGINS: comma-separated; empty = CORS off
    warm_up: bool = True  # load and run both models at start-up (/readyz waits for it)

    def __post_init__(self):
        for name in ("workers", "max_image_bytes", "max_image_pixels", "max_faces", "max_video_bytes", "video_workers"):
            if getattr(self, name) < 1:
                raise FerError(f"FER_API_{name.upper()} must be at least 1")
        for name in ("video_queue", "max_video_seconds", "job_ttl_seconds"):
            if getattr(self, name) <= 0:
                raise FerError(f"FER_API_{name.upper()} must be positive")
        if self.queue is not None and self.queue < 0:
            raise FerError("FER_API_QUEUE must be 0 or more")
        if self.max_image_pixels > media.MAX_PIXELS:
            raise FerError(f"FER_API_MAX_IMAGE_PIXELS can be at most the engine's cap, {media.MAX_PIXELS}")
        if self.token is not None and not self.token.strip():
            raise FerError("FER_API_TOKEN is set but empty")

    @property
    def image_queue(self) -> int:
        return 2 * self.workers if self.queue is None else self.queue

    @classmethod
    def from_env(cls, environ=None, **overrides) -> Settings:
        env = os.environ if environ is None else environ
        values: dict = {}
        for f in cls.__dataclass_fields__.values():
            key = "FER_API_" + f.name.upper()
            if key not in env or f.name == "warm_up":
                continue
            raw = env[key].strip()
            if f.name == "token":
                values["token"] = raw or None
            elif f.name == "cors_origins":
                values["cors_origins"] = tuple(o.strip() for o in raw.split(",") if o.strip())
            else:
                kind = float if f.type in ("float", float) else int
                try:
                    values[f.name] = kind(raw.replace("_", ""))
                except ValueError:
                    raise FerError(f"{key}={raw!r}: not a number") from None
        values.update(overrides)
        return cls(**values)
