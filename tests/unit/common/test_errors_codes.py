"""Every domain error names a real gRPC status: the interceptor looks it up by that name."""

from __future__ import annotations

import grpc
import pytest

from vestry.common import errors


@pytest.mark.parametrize("name", errors.__all__)
def test_each_domain_error_names_a_grpc_status(name: str) -> None:
    cls = getattr(errors, name)
    assert cls.code in grpc.StatusCode.__members__
    if cls is not errors.DomainError:
        assert cls.code != "UNKNOWN"
