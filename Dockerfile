# The MirrorWatch gateway image for docker-compose.yml's optional `mirrorwatch` service.
# Bluetooth goes through the host's BlueZ over its D-Bus socket (mounted by compose).
FROM python:3.11-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md ./
COPY sensors sensors
COPY pipeline pipeline
RUN pip install --no-cache-dir .
ENTRYPOINT ["mirrorwatch"]
