"""What the CLI says about a gRPC error: one table for fsck, gc and healthcheck."""

from __future__ import annotations

import grpc
import pytest

from vestry.cli.rpc import describe_rpc_error

WHO = "the storage service at 127.0.0.1:1"


class _Failed(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize(
    ("code", "details", "message"),
    [
        (
            grpc.StatusCode.UNAUTHENTICATED,
            "bad credential",
            f"{WHO} refused the internal credential: set VESTRY_INTERNAL_SECRET to the "
            "deployment's secret",
        ),
        (
            grpc.StatusCode.UNAVAILABLE,
            "connection refused",
            f"{WHO} is unavailable: connection refused",
        ),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "", f"{WHO} is unavailable: DEADLINE_EXCEEDED"),
        (grpc.StatusCode.NOT_FOUND, "no blob k", f"{WHO} answered NOT_FOUND: no blob k"),
    ],
)
def test_describe_rpc_error(code: grpc.StatusCode, details: str, message: str) -> None:
    assert describe_rpc_error(_Failed(code, details), WHO) == message
