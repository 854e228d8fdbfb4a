"""Property-based tests from the OpenAPI schema (Schemathesis, in-process): no input gives a 5xx, and every
answer matches the schema (status code, content type, headers, body). Seeded and bounded."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fer_app.api.app import create_app  # noqa: E402
from fer_app.api.settings import Settings  # noqa: E402

# Small limits so that generated bodies reach them; a token, so the auth answers are exercised too.
TOKEN = "schemathesis-token"
app = create_app(Settings(token=TOKEN, workers=1, queue=2, max_image_bytes=256 * 1024, max_video_bytes=256 * 1024,
                          video_queue=2, job_ttl_seconds=60))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_5xx_and_schema_conformant(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)


@schema.parametrize()
@settings(max_examples=5, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_no_5xx_without_a_token(case):
    response = case.call_and_validate(checks=CHECKS)
    if case.path.startswith("/v1/") or case.path == "/metrics":
        assert response.status_code in (401, 404, 405, 422), response.status_code


def test_the_generated_requests_reached_every_operation():
    """The property tests above really called the app: every operation answered, with 2xx and 4xx among them."""
    text = app.state.metrics.render().decode()
    for route in ("/v1/images:analyze", "/v1/videos", "/v1/videos/{job_id}", "/healthz", "/readyz", "/metrics"):
        assert f'route="{route}"' in text, route
    statuses = {line.split('status="')[1][:3] for line in text.splitlines()
                if line.startswith("fer_api_requests_total{")}
    assert {"200", "401", "415", "422"} <= statuses, statuses
    assert not any(s.startswith("5") and s != "503" for s in statuses), statuses
