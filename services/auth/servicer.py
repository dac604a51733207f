"""gRPC adapter for the auth domain: unpack, call `AuthService` in a worker thread, pack."""

from __future__ import annotations

import asyncio
import json

from vestry.auth.v1 import auth_pb2, auth_pb2_grpc

from vestry.common.errors import InvalidArgument
from vestry.common.grpc_server import Context
from vestry.services.auth.caveats import AccessContext
from vestry.services.auth.convert import (
    scope_from_proto,
    scope_to_proto,
    token_to_proto,
    user_to_proto,
)
from vestry.services.auth.errors import CaveatError
from vestry.services.auth.service import AuthService, PublisherGrant


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, service: AuthService) -> None:
        self._s = service

    async def CreateUser(
        self, request: auth_pb2.CreateUserRequest, context: Context
    ) -> auth_pb2.User:
        user = await asyncio.to_thread(self._s.create_user, request.name, request.admin)
        return user_to_proto(user)

    async def GetUser(self, request: auth_pb2.GetUserRequest, context: Context) -> auth_pb2.User:
        user = await asyncio.to_thread(self._s.get_user, user_id=request.id, name=request.name)
        return user_to_proto(user)

    async def SetUserActive(
        self, request: auth_pb2.SetUserActiveRequest, context: Context
    ) -> auth_pb2.User:
        user = await asyncio.to_thread(self._s.set_user_active, request.name, request.active)
        return user_to_proto(user)

    async def MintToken(
        self, request: auth_pb2.MintTokenRequest, context: Context
    ) -> auth_pb2.MintTokenResponse:
        try:
            requested = scope_from_proto(request.caveats)
        except CaveatError as exc:
            raise InvalidArgument(str(exc)) from exc
        token, info = await asyncio.to_thread(
            self._s.mint,
            requested=requested,
            name=request.name,
            parent_token=request.parent_token,
            for_user=request.for_user,
        )
        return auth_pb2.MintTokenResponse(token=token, info=token_to_proto(info))

    async def VerifyToken(
        self, request: auth_pb2.VerifyTokenRequest, context: Context
    ) -> auth_pb2.VerifyTokenResponse:
        ctx = None
        if request.HasField("context"):
            c = request.context
            ctx = AccessContext(c.permission, c.project_name, c.project_id)
        v = await asyncio.to_thread(self._s.verify, request.token, ctx)
        return auth_pb2.VerifyTokenResponse(
            principal=auth_pb2.Principal(
                user_id=v.user_id, username=v.username, admin=v.admin, token_id=v.token_id
            ),
            scope=scope_to_proto(v.scope),
        )

    async def AttenuateToken(
        self, request: auth_pb2.AttenuateTokenRequest, context: Context
    ) -> auth_pb2.AttenuateTokenResponse:
        token = await asyncio.to_thread(
            self._s.attenuate, request.token, scope_from_proto(request.caveats)
        )
        return auth_pb2.AttenuateTokenResponse(token=token)

    async def RevokeToken(
        self, request: auth_pb2.RevokeTokenRequest, context: Context
    ) -> auth_pb2.RevokeTokenResponse:
        token_id = await asyncio.to_thread(
            self._s.revoke, request.caller_token, request.token_or_id
        )
        return auth_pb2.RevokeTokenResponse(token_id=token_id)

    async def ListTokens(
        self, request: auth_pb2.ListTokensRequest, context: Context
    ) -> auth_pb2.ListTokensResponse:
        rows = await asyncio.to_thread(self._s.list_tokens, request.caller_token)
        return auth_pb2.ListTokensResponse(tokens=[token_to_proto(t) for t in rows])

    async def VerifyOidcToken(
        self, request: auth_pb2.VerifyOidcTokenRequest, context: Context
    ) -> auth_pb2.VerifyOidcTokenResponse:
        verified = await asyncio.to_thread(self._s.oidc.verify, request.token)
        return auth_pb2.VerifyOidcTokenResponse(
            issuer=verified.issuer, claims_json=json.dumps(verified.claims)
        )

    async def MintPublisherToken(
        self, request: auth_pb2.MintPublisherTokenRequest, context: Context
    ) -> auth_pb2.MintTokenResponse:
        grants = [
            PublisherGrant(g.publisher_id, g.project_id, g.project_name) for g in request.grants
        ]
        token, info = await asyncio.to_thread(
            self._s.mint_publisher_token, request.oidc_token, grants, request.user_id
        )
        return auth_pb2.MintTokenResponse(token=token, info=token_to_proto(info))

    async def BurnPublisherToken(
        self, request: auth_pb2.BurnPublisherTokenRequest, context: Context
    ) -> auth_pb2.BurnPublisherTokenResponse:
        token_id = await asyncio.to_thread(self._s.burn_publisher_token, request.token)
        return auth_pb2.BurnPublisherTokenResponse(token_id=token_id)

    async def ListUsers(
        self, request: auth_pb2.ListUsersRequest, context: Context
    ) -> auth_pb2.ListUsersResponse:
        users = await asyncio.to_thread(self._s.list_users)
        return auth_pb2.ListUsersResponse(users=[user_to_proto(u) for u in users])
