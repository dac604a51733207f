"""`vestry healthcheck TARGET`: the container health check of docker-compose.

Kubernetes probes gRPC health natively; compose can only run a command, and `grpc_health_probe`
is not packaged, so the image carries this instead. Exit 0 = serving, 1 = not.
"""

from __future__ import annotations

import ssl

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from vestry.cli.api import describe_http_error, describe_transport_error
from vestry.cli.errors import CliError
from vestry.cli.rpc import describe_rpc_error
from vestry.common.grpc_options import CLIENT_OPTIONS

__all__ = ["check", "healthcheck"]


def check(target: str, timeout: float, context: ssl.SSLContext | None = None) -> str | None:
    """None when `target` serves, else why not.

    `target` is a gRPC address (`host:port`, `unix:path`) checked with the standard health
    service, or an `http(s)://` URL that must answer 200.
    """
    if target.startswith(("http://", "https://")):
        try:
            # No token travels with a probe, so following a redirect is harmless.
            answer = httpx.get(
                target, timeout=timeout, follow_redirects=True, verify=context or True
            )
        except httpx.HTTPError as exc:
            return describe_transport_error(exc)
        return None if answer.status_code == 200 else describe_http_error(answer)
    try:
        with grpc.insecure_channel(target, options=CLIENT_OPTIONS) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout
            )
    except grpc.RpcError as exc:
        return describe_rpc_error(exc, "the service")
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
    return None


def healthcheck(target: str, timeout: float) -> int:
    """0 when `target` serves; raises CliError (exit 1) saying why not."""
    problem = check(target, timeout)
    if problem is not None:
        raise CliError(problem, command=f"healthcheck {target}")
    return 0
