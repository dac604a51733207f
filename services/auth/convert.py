"""Proto <-> domain conversions for the auth service."""

from __future__ import annotations

from vestry.auth.v1 import auth_pb2

from vestry.common.protoconv import message_of, optional_set
from vestry.services.auth.caveats import Scope
from vestry.services.auth.service import TokenRecord, UserRecord


def scope_to_proto(scope: Scope) -> auth_pb2.Scope:
    msg = auth_pb2.Scope()
    if scope.project_names is not None:
        msg.project_names.values.extend(sorted(scope.project_names))
        msg.project_names.SetInParent()
    if scope.project_ids is not None:
        msg.project_ids.values.extend(sorted(scope.project_ids))
        msg.project_ids.SetInParent()
    if scope.permissions is not None:
        msg.permissions.values.extend(sorted(scope.permissions))
        msg.permissions.SetInParent()
    if scope.not_before is not None:
        msg.not_before.FromSeconds(scope.not_before)
    if scope.expires is not None:
        msg.expires.FromSeconds(scope.expires)
    if scope.user_ids:
        msg.user_id = sorted(scope.user_ids)[0]
    if scope.publisher_ids is not None:
        msg.publisher_ids.values.extend(sorted(scope.publisher_ids))
        msg.publisher_ids.SetInParent()
    return msg


def scope_from_proto(msg: auth_pb2.Scope) -> Scope:
    def opt(field: str) -> frozenset[str] | None:
        return optional_set(msg, field)

    return Scope(
        project_names=opt("project_names"),
        project_ids=opt("project_ids"),
        permissions=opt("permissions"),
        not_before=msg.not_before.seconds if msg.HasField("not_before") else None,
        expires=msg.expires.seconds if msg.HasField("expires") else None,
        user_ids=frozenset([msg.user_id]) if msg.user_id else None,
        publisher_ids=opt("publisher_ids"),
    )


def user_to_proto(user: UserRecord) -> auth_pb2.User:
    return message_of(auth_pb2.User, user)


def token_to_proto(token: TokenRecord) -> auth_pb2.TokenInfo:
    return message_of(auth_pb2.TokenInfo, token, caveats=scope_to_proto(token.caveats))
