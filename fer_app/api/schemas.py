"""Response bodies, as pydantic models for the OpenAPI schema (routes return plain JSON built by the engine)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, create_model

from fer_app.detect import detector_names
from fer_app.labels import EMOTIONS

Emotion = Literal[EMOTIONS]  # type: ignore[valid-type]
DetectorName = Literal[tuple(detector_names())]  # type: ignore[valid-type]

Probabilities = create_model(
    "Probabilities", **{name: (float, Field(ge=0, le=1)) for name in EMOTIONS}, __doc__="one probability per emotion"
)


class FaceOut(BaseModel):
    """A face, exactly as `python -m fer_app image --json` prints it."""

    box: list[int] = Field(min_length=4, max_length=4, description="x, y, width, height in the image's pixels")
    emotion: Emotion | None = Field(description="null when the face is not read: too small, or cut by the frame's edge (see `note`)")
    confidence: float | None = Field(ge=0, le=1, description="the probability of `emotion`")
    probabilities: Probabilities | None
    note: str | None = Field(None, description="only on a face not read: why it has no emotion")


class ModelOut(BaseModel):
    name: str = Field(description="'accurate' for the ensemble, else the model file's name")
    sha256: str = Field(description="the model file's SHA-256 (for the ensemble: of its members' digests)")
    accurate: bool


class TimingOut(BaseModel):
    queued_ms: float = Field(description="waiting for a worker")
    decode_ms: float
    analyze_ms: float = Field(description="detection and classification")
    total_ms: float = Field(description="from the request's arrival to the answer")


class ImageAnalysis(BaseModel):
    faces: list[FaceOut] = Field(description="empty when no face was found")
    width: int
    height: int
    model: ModelOut
    detector: DetectorName = Field(description="the face detector that ran")
    notes: list[str] = Field(description="conversions made while decoding (EXIF rotation, transparency ...), "
                                         "and a detector standing in for one that is not installed")
    timing: TimingOut
    request_id: str


class Progress(BaseModel):
    frames_done: int
    frames_total: int | None = Field(description="null when the container does not say")
    fraction: float | None


class TimelineRow(BaseModel):
    """One second of video, as `video --timeline x.json` writes it; emotions are null in a second with no face."""

    second: int
    frames: int
    faces: int
    dominant: str
    angry: float | None
    disgust: float | None
    fear: float | None
    happy: float | None
    sad: float | None
    surprise: float | None
    neutral: float | None


class VideoSummaryOut(BaseModel):
    """The summary `python -m fer_app video --json` prints."""

    duration: float
    width: int
    height: int
    rotation: int
    source_fps: float
    frames_decoded: int
    frames_analysed: int
    faces_seen: int
    faces_read: int = Field(description="face observations large enough to read; the shares and means are over these")
    max_faces: int
    tracks_seen: int
    emotion_shares: Probabilities
    mean_probabilities: Probabilities
    audio: str
    notes: list[str]


class JobError(BaseModel):
    type: str
    detail: str


class VideoJob(BaseModel):
    id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    progress: Progress
    accurate: bool
    fps: float | None = Field(description="frames analysed per second; null: every frame")
    model: ModelOut
    detector: DetectorName = Field(description="the face detector that runs")
    created_at: float = Field(description="Unix time")
    started_at: float | None
    finished_at: float | None
    expires_at: float | None = Field(description="Unix time at which the job and its result are deleted")
    summary: VideoSummaryOut | None = Field(description="when succeeded")
    timeline: list[TimelineRow] | None = Field(description="when succeeded: one row per second")
    error: JobError | None = Field(description="when failed")


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    models: dict[str, ModelOut]
