# syntax=docker/dockerfile:1
# One image for all four Vestry processes: `vestry serve auth|index|storage|gateway`, plus
# `vestry migrate` (the one-shot before every start or upgrade) and `vestry healthcheck`.
#
#   docker build -t vestry:0.1.0 .
#
# The base is pinned to an exact release; pin it by digest too where builds must be
# reproducible (docker buildx imagetools inspect python:3.11.11-slim-bookworm).
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/vestry
WORKDIR /src
# Dependencies first, from pyproject alone: this layer survives source-only changes.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print(chr(10).join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt
RUN /opt/vestry/bin/pip install -r /tmp/requirements.txt
COPY vestry ./vestry
COPY services ./services
COPY gateway ./gateway
COPY protos ./protos
RUN /opt/vestry/bin/pip install --no-deps . \
    && /opt/vestry/bin/vestry --help > /dev/null

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="Vestry" \
      org.opencontainers.image.description="A private Python package index" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 vestry \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/vestry \
       --shell /usr/sbin/nologin vestry \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/vestry /var/lib/vestry/spool
COPY --from=build /opt/vestry /opt/vestry
ENV PATH=/opt/vestry/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VESTRY_AUTH_LISTEN=0.0.0.0:50051 \
    VESTRY_INDEX_LISTEN=0.0.0.0:50052 \
    VESTRY_STORAGE_LISTEN=0.0.0.0:50053 \
    VESTRY_STORAGE_PATH=/var/lib/vestry/spool \
    VESTRY_GATEWAY_HOST=0.0.0.0 \
    VESTRY_GATEWAY_PORT=8080
WORKDIR /var/lib/vestry
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8080 50051 50052 50053 9100
ENTRYPOINT ["vestry"]
CMD ["serve", "gateway"]
