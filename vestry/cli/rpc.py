"""What a gRPC error means to the person at the terminal: one table for every CLI command."""

from __future__ import annotations

import grpc

__all__ = ["TRANSIENT", "describe_rpc_error"]

# Worth retrying later: the service is down, restarting or too slow, not refusing us.
TRANSIENT = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})

_UNAVAILABLE = "{who} is unavailable: {details}"

_ANSWERS: dict[grpc.StatusCode, str] = {
    # The only credential the CLI ever sends a service is the one minted from this secret.
    grpc.StatusCode.UNAUTHENTICATED: (
        "{who} refused the internal credential: set VESTRY_INTERNAL_SECRET to the deployment's "
        "secret"
    ),
    grpc.StatusCode.UNAVAILABLE: _UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: _UNAVAILABLE,
}
_OTHERWISE = "{who} answered {code}: {details}"


def describe_rpc_error(exc: grpc.RpcError, who: str) -> str:
    """One sentence saying what `who` (e.g. "the storage service at HOST:PORT") answered."""
    code: grpc.StatusCode = exc.code()
    details: str = exc.details() or code.name
    return _ANSWERS.get(code, _OTHERWISE).format(who=who, code=code.name, details=details)
