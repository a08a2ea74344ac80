# One image for every Python service of the stack (emulator, worker, watcher, beat, flower).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY mediapost ./mediapost
COPY worker ./worker
COPY scheduler ./scheduler
COPY emulator ./emulator
RUN pip install --no-cache-dir . && useradd --create-home --uid 1000 mediapost
USER mediapost
ENTRYPOINT ["mediapost"]
