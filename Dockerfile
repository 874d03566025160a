# deskchat server image: `docker build -t deskchat .`; see docs/deployment.md and docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . \
    && useradd --system --home-dir /app --shell /usr/sbin/nologin deskchat \
    && mkdir -p /app/var && chown deskchat /app/var

USER deskchat
ENV DESKCHAT_DATA_DIR=/app/var \
    DESKCHAT_LOG_FORMAT=json
EXPOSE 8000

# Liveness only (the process answers); readiness (database and Redis) is /readyz, see docker-compose.yml.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

CMD ["deskchat", "serve", "--host", "0.0.0.0", "--port", "8000"]
