"""The gateway's gRPC clients: one channel per service, created with the app, closed with it."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from starlette.requests import Request
from vestry.auth.v1 import auth_pb2_grpc
from vestry.index.v1 import index_pb2_grpc
from vestry.storage.v1 import storage_pb2_grpc

from vestry.common.channels import internal_channel
from vestry.gateway.settings import GatewaySettings

# Calls safe to repeat on another replica when the one serving them dies mid-call: reads,
# content-addressed blob writes, and CommitFile (a repeat finds its own file: already_present).
# Minting, creating and revoking are left out: a repeat could act twice.
RETRYABLE: dict[str, tuple[str, ...]] = {
    "vestry.auth.v1.AuthService": ("VerifyToken", "GetUser", "ListTokens", "AttenuateToken"),
    "vestry.index.v1.IndexService": (
        "ListProjects",
        "GetProjectPage",
        "GetFile",
        "CheckUpload",
        "CommitFile",
        "ListBlobReferences",
        # The upstream proxy's: reads, and records that keep the first on a repeat.
        "DecideUpstream",
        "GetUpstreamFile",
        "RecordUpstreamFile",
        "RecordUpstreamPage",
    ),
    "vestry.storage.v1.StorageService": (
        "PutBlob",
        "GetBlob",
        "Stat",
        "Exists",
        "PresignGet",
        "LocateBlob",
        "VerifyBlob",
        "ListBlobs",
    ),
}


@dataclass
class Backends:
    auth: auth_pb2_grpc.AuthServiceAsyncStub
    index: index_pb2_grpc.IndexServiceAsyncStub
    storage: storage_pb2_grpc.StorageServiceAsyncStub
    channels: tuple[grpc.aio.Channel, ...]
    timeout: float

    @classmethod
    def connect(cls, settings: GatewaySettings) -> Backends:
        secret = settings.secret_bytes
        a = internal_channel(settings.auth_address, secret, RETRYABLE)
        i = internal_channel(settings.index_address, secret, RETRYABLE)
        s = internal_channel(settings.storage_address, secret, RETRYABLE)
        return cls(
            auth=auth_pb2_grpc.AuthServiceStub(a),
            index=index_pb2_grpc.IndexServiceStub(i),
            storage=storage_pb2_grpc.StorageServiceStub(s),
            channels=(a, i, s),
            timeout=settings.rpc_timeout,
        )

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()


def backends_of(request: Request) -> Backends:
    """This gateway's connections to the services, opened in the app's lifespan."""
    backends: Backends = request.app.state.backends
    return backends
