# The MirrorWatch gateway image for docker-compose.yml's optional `mirrorwatch` service.
# Bluetooth goes through the host's BlueZ over its D-Bus socket (mounted by compose).
FROM python:3.11-slim-bookworm
WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY sensors sensors
COPY pipeline pipeline
# gcc only to compile the engine (setup.py, mypyc); removed again to keep the image small
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --no-cache-dir . \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
ENTRYPOINT ["mirrorwatch"]
