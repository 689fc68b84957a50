# The bot as a container: `bot run` as a non-root user, state on the /data volume.
# CPU only and light: the plain `pip install .` from README (no `.[st]` extra, so no torch);
# the bundled multilingual embedder ships inside its wheel, so nothing downloads at run time.
# The HEALTHCHECK is `bot status` (tests/test_status.py runs it the way this image does):
# exit 1 when the scheduler's heartbeat is stale or every enabled source is failing.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A small CJK font, so the trend chart's Chinese labels render as glyphs, not boxes.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install --no-cache-dir .

# The config is read-only app data: mount your own over it. (LLM prompts ship inside the package.)
COPY sources.yaml ./sources.yaml

RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin bot \
    && mkdir -p /data \
    && chown bot:bot /data
USER bot

# State (bot.db, index/, the runtime sources overlay) lives on the volume; config via BOT_CONFIG.
ENV BOT_DATA_DIR=/data \
    BOT_CONFIG=/app/sources.yaml \
    HF_HUB_OFFLINE=1
VOLUME /data

HEALTHCHECK --interval=60s --timeout=15s --start-period=120s --retries=3 CMD bot status

ENTRYPOINT ["bot"]
CMD ["run"]
