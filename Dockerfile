# pathgrad: one image for the API (`pathgrad api`, on waitress) and the workers (Celery).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY pathgrad ./pathgrad
COPY service ./service
COPY worker ./worker
RUN pip install . \
    && useradd --create-home --uid 10001 pathgrad

# Never root: a Celery worker refuses to be comfortable as root, and should.
USER pathgrad
EXPOSE 8000
CMD ["pathgrad", "api", "--host", "0.0.0.0", "--port", "8000", "--threads", "32"]
