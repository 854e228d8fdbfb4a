"""Prometheus metrics of one app: requests, latency, faces per image, queue lengths (its own registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("fer_api_requests", "HTTP requests answered", ["method", "route", "status"], registry=r)
        self.latency = Histogram("fer_api_request_duration_seconds", "time to answer, by route", ["method", "route"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.faces = Histogram("fer_api_faces_per_image", "faces found per analysed image",
                               buckets=(0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 100), registry=r)
        self.rejected = Counter("fer_api_rejected", "requests refused because a queue was full", ["queue"], registry=r)
        self.image_queue = Gauge("fer_api_image_queue_length", "image requests waiting for a worker", registry=r)
        self.image_running = Gauge("fer_api_image_in_progress", "image requests being analysed", registry=r)
        self.video_queue = Gauge("fer_api_video_queue_length", "video jobs waiting for a worker", registry=r)
        self.video_jobs = Gauge("fer_api_video_jobs", "video jobs held, by status", ["status"], registry=r)
        self.video_done = Counter("fer_api_video_jobs_finished", "video jobs finished, by outcome", ["status"], registry=r)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
