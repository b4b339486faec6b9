# Matong API: gunicorn as a non-root user. Migrate with `flask db upgrade` before starting
# (docker-compose.yml runs it as a one-off service).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FLASK_APP=wsgi \
    MATONG_ENV=production \
    BIND=0.0.0.0:8000

WORKDIR /srv/matong
RUN groupadd --system matong && useradd --system --gid matong --home /srv/matong matong

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY --chown=matong:matong . .
RUN mkdir -p /srv/matong/var/exports && chown -R matong:matong /srv/matong/var

USER matong
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["gunicorn", "-c", "config/gunicorn.py", "wsgi:app"]
