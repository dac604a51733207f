"""Prometheus metrics every Vestry process exports, and the one way they are served.

gRPC servers count and time every guarded call under the names go-grpc-prometheus made standard
(`grpc_server_handled_total`, `grpc_server_handling_seconds`), so existing dashboards work. Labels
are method names, status codes and route templates only: never a project, user or token.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter, Histogram, start_http_server

__all__ = [
    "GRPC_HANDLED",
    "GRPC_HANDLING_SECONDS",
    "grpc_labels",
    "serve_metrics",
]

log = logging.getLogger(__name__)

# From a cached token check (well under a millisecond) to a 100 MiB upload.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

GRPC_HANDLED = Counter(
    "grpc_server_handled_total",
    "gRPC calls completed by the server, by method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
GRPC_HANDLING_SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "Time the server took to complete a gRPC call.",
    ["grpc_service", "grpc_method"],
    buckets=LATENCY_BUCKETS,
)


def grpc_labels(full_method: str) -> tuple[str, str]:
    """(service, method) of a gRPC method path: "/vestry.auth.v1.AuthService/VerifyToken" gives
    ("vestry.auth.v1.AuthService", "VerifyToken")."""
    service, _, method = full_method.lstrip("/").partition("/")
    return service, method


def serve_metrics(listen: str) -> int:
    """Serve /metrics on `listen` (HOST:PORT) from a background thread; nothing when empty.

    Returns the bound port (useful with port 0).
    """
    if not listen:
        return 0
    host, _, port = listen.rpartition(":")
    server, _thread = start_http_server(int(port), addr=host.strip("[]") or "0.0.0.0")
    bound: int = server.server_port
    log.info("metrics on http://%s:%d/metrics", host or "0.0.0.0", bound)
    return bound


def serve_multiprocess_metrics(listen: str, directory: str) -> int:
    """Serve /metrics on `listen` for every process that runs with PROMETHEUS_MULTIPROC_DIR set
    to `directory` (`vestry up`: four processes, one port). Returns the bound port."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    host, _, port = listen.rpartition(":")
    server, _thread = start_http_server(
        int(port), addr=host.strip("[]") or "0.0.0.0", registry=registry
    )
    bound: int = server.server_port
    log.info("metrics of every process on http://%s:%d/metrics", host or "0.0.0.0", bound)
    return bound
