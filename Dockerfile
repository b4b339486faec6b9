# Matong API: gunicorn as a non-root user. Migrate with `flask db upgrade` before starting
# (docker-compose.yml runs it as a one-off service). The base images are pinned to exact releases
# (Python 3.11, Debian bookworm, as CI; Node 20 for the console's build only); raise them on purpose,
# not by a rebuild.
FROM python:3.11.14-slim-bookworm AS python

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FLASK_APP=wsgi \
    MATONG_ENV=production \
    BIND=0.0.0.0:8000

WORKDIR /srv/matong
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .

# The OpenAPI document the console's typed client is generated from (the app's own, as served).
FROM python AS openapi
RUN MATONG_ENV=development MATONG_VAR_DIR=/tmp/var flask console openapi /tmp/openapi.json

# The back-office console, built in a stage of its own: Node and node_modules stay out of the image.
FROM node:20.20.2-bookworm-slim AS console
WORKDIR /console
COPY console/package.json console/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY console/ ./
COPY --from=openapi /tmp/openapi.json ./openapi.json
RUN npm run build

FROM python
RUN groupadd --system matong && useradd --system --gid matong --home /srv/matong matong
COPY --from=console /console/dist console/dist
# The code stays root's (the app writes only under var/).
RUN mkdir -p /srv/matong/var/exports /srv/matong/var/heartbeats && chown -R matong:matong /srv/matong/var

USER matong
EXPOSE 8000
# The web process's check (docker run); docker-compose.yml gives each worker a check of its own.
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz')"
CMD ["gunicorn", "-c", "config/gunicorn.py", "wsgi:app"]
