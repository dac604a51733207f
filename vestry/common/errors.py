"""The domain error hierarchy shared by every service.

Domain code raises these; one gRPC server interceptor (`vestry.common.grpc_server`) turns them
into a status, and the gateway turns statuses into HTTP answers in one table. Each error names
the gRPC status it maps to, so a new error needs no new mapping code; it names it as a string,
so that domain code, which imports these, never imports grpc.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "DomainError",
    "FailedPrecondition",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
]


class DomainError(Exception):
    """An expected failure whose message is safe to show to the client."""

    code: str = "UNKNOWN"  # the name of a grpc.StatusCode

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(DomainError):
    code = "INVALID_ARGUMENT"


class NotFound(DomainError):
    code = "NOT_FOUND"


class AlreadyExists(DomainError):
    code = "ALREADY_EXISTS"


class PermissionDenied(DomainError):
    code = "PERMISSION_DENIED"


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class FailedPrecondition(DomainError):
    code = "FAILED_PRECONDITION"


class ResourceExhausted(DomainError):
    code = "RESOURCE_EXHAUSTED"


class Unavailable(DomainError):
    code = "UNAVAILABLE"
