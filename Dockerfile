# Samenspel: the bot as a small image that runs as a non-root user, data on a volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SAMENSPEL_DB=/data/samenspel.db

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
COPY messages ./messages
# DejaVu has the letters of every catalog language for the charts and posters; FriBiDi
# lets Pillow join Arabic letters and set them right to left (`samenspel doctor` checks both).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core libfribidi0 \
    && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home-dir /data samenspel \
    && mkdir -p /data /srv/open-data && chown samenspel /data /srv/open-data

USER samenspel
# The database (and a Matrix crypto store beside it) on one volume; the weekly open-data
# export in another, which a web server can publish read-only.
VOLUME ["/data", "/srv/open-data"]
# Webhook mode listens here (SAMENSPEL_TELEGRAM_WEBHOOK_LISTEN=0.0.0.0:8443).
EXPOSE 8443
ENTRYPOINT ["samenspel"]
CMD ["run"]
