# One image for every Python service of the stack (emulator, worker, watcher, beat, Flower,
# metrics); the command picks the process: `docker run IMAGE worker`, `... watch /data/dropbox`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MEDIAPOST_STATE_DIR=/var/lib/mediapost

# A fixed uid (1000), so files it writes in a bind-mounted drop folder belong to a known user.
RUN useradd --create-home --uid 1000 mediapost \
    && install -d -o mediapost -g mediapost /var/lib/mediapost /data/dropbox /data/emulator

WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY mediapost ./mediapost
COPY worker ./worker
COPY scheduler ./scheduler
COPY emulator ./emulator
RUN pip install --no-cache-dir . && rm -rf build *.egg-info

USER mediapost
# Emulator (gallery), Flower, metrics.
EXPOSE 8080 5555 9808
STOPSIGNAL SIGTERM
ENTRYPOINT ["mediapost"]
CMD ["--help"]
