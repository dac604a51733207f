"""`vestry healthcheck TARGET`: the container health check of docker-compose.

Kubernetes probes gRPC health natively; compose can only run a command, and `grpc_health_probe`
is not packaged, so the image carries this instead. Exit 0 = serving, 1 = not.
"""

from __future__ import annotations

import ssl
import sys
import urllib.error
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from vestry.common.grpc_server import CLIENT_OPTIONS

__all__ = ["check", "healthcheck"]


def check(target: str, timeout: float, context: ssl.SSLContext | None = None) -> str | None:
    """None when `target` serves, else why not.

    `target` is a gRPC address (`host:port`, `unix:path`) checked with the standard health
    service, or an `http(s)://` URL that must answer 200.
    """
    if target.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(target, timeout=timeout, context=context) as reply:  # noqa: S310 - operator's URL
                return None if reply.status == 200 else f"HTTP {reply.status}"
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except OSError as exc:
            return str(exc)
    try:
        with grpc.insecure_channel(target, options=CLIENT_OPTIONS) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout
            )
    except grpc.RpcError as exc:
        return f"{exc.code().name}: {exc.details()}"
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
    return None


def healthcheck(target: str, timeout: float) -> int:
    problem = check(target, timeout)
    if problem is None:
        return 0
    print(f"vestry healthcheck {target}: {problem}", file=sys.stderr)
    return 1
