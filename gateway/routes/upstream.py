"""Management of the upstream proxy's per-project rules (`/api/v1/upstream/…`): cooldown
exemptions and the merge allow-list. The index decides who may (administrators)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from vestry.index.v1 import index_pb2

from vestry.gateway.backends import backends_of
from vestry.gateway.identity import identify

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/upstream", tags=["upstream"])
Rule = Literal["exempt", "merge"]


class RuleOut(BaseModel):
    project: str
    rule: str
    until: datetime | None
    created: datetime | None
    created_by: str


class RuleIn(BaseModel):
    until: datetime | None = None


def _out(r: index_pb2.UpstreamRule) -> RuleOut:
    return RuleOut(
        project=r.project_name,
        rule=r.rule,
        until=r.until.ToDatetime(tzinfo=UTC) if r.HasField("until") else None,
        created=r.created.ToDatetime(tzinfo=UTC) if r.HasField("created") else None,
        created_by=r.created_by,
    )


@router.get("/rules")
async def list_rules(request: Request) -> list[RuleOut]:
    backends = backends_of(request)
    who = await identify(request, backends)
    reply = await backends.index.ListUpstreamRules(
        index_pb2.ListUpstreamRulesRequest(caller=who.caller), timeout=backends.timeout
    )
    return [_out(r) for r in reply.rules]


@router.put("/rules/{project}/{rule}")
async def set_rule(request: Request, project: str, rule: Rule, body: RuleIn) -> RuleOut:
    backends = backends_of(request)
    who = await identify(request, backends)
    req = index_pb2.SetUpstreamRuleRequest(
        caller=who.caller, project_name=project, rule=rule, enabled=True
    )
    if body.until is not None:
        until = body.until if body.until.tzinfo else body.until.replace(tzinfo=UTC)
        req.until.FromDatetime(until)
    reply = await backends.index.SetUpstreamRule(req, timeout=backends.timeout)
    return _out(reply)


@router.delete("/rules/{project}/{rule}", status_code=204)
async def remove_rule(request: Request, project: str, rule: Rule) -> Response:
    backends = backends_of(request)
    who = await identify(request, backends)
    await backends.index.SetUpstreamRule(
        index_pb2.SetUpstreamRuleRequest(
            caller=who.caller, project_name=project, rule=rule, enabled=False
        ),
        timeout=backends.timeout,
    )
    return Response(status_code=204)
