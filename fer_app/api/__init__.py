"""The HTTP API: the recognition engine as a service (FastAPI on uvicorn).

`python -m fer_app serve` runs it; `fer_app.api.app.create_app(settings)` builds the ASGI app
(tests drive it in-process). Modules: settings (limits from the environment),
problems (RFC 9457 errors), auth (bearer token), context (request ids, logs,
metrics per request), metrics (Prometheus), uploads (bounded body reading),
pool (image workers), recognizers (how they are built), images and videos (the routes), app (the factory),
serve (the CLI subcommand).

fastapi is imported by these modules only, not here: `python -m fer_app` builds
its parser (which registers `serve`) on installs without the API's requirements.
"""
