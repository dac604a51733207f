"""Management of the upstream proxy's per-project rules (`/api/v1/upstream/…`): cooldown
exemptions and the merge allow-list. The index decides who may (administrators)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Body, Request
from fastapi.responses import Response
from vestry.index.v1 import index_pb2

from vestry.common.protoconv import timestamp, utc_datetime
from vestry.gateway.routes._common import ERRORS, management_router, who_calls
from vestry.gateway.schemas import UpstreamRuleIn, UpstreamRuleOut

__all__ = ["router"]

router = management_router()
Rule = Literal["exempt", "merge"]


def _out(r: index_pb2.UpstreamRule) -> UpstreamRuleOut:
    return UpstreamRuleOut(
        project=r.project_name,
        rule=r.rule,
        until=utc_datetime(r.until),
        created=utc_datetime(r.created),
        created_by=r.created_by,
    )


@router.get("/upstream/rules", response_model=list[UpstreamRuleOut], responses=ERRORS)
async def list_rules(request: Request) -> list[UpstreamRuleOut]:
    """Every cooldown exemption and merge allow-list entry (administrators)."""
    backends, who = await who_calls(request)
    reply = await backends.index.ListUpstreamRules(
        index_pb2.ListUpstreamRulesRequest(caller=who.caller), timeout=backends.timeout
    )
    return [_out(r) for r in reply.rules]


@router.put("/upstream/rules/{project}/{rule}", response_model=UpstreamRuleOut, responses=ERRORS)
async def set_rule(
    request: Request, project: str, rule: Rule, body: Annotated[UpstreamRuleIn, Body()]
) -> UpstreamRuleOut:
    """Exempt a project from the cooldown, or let a local project merge upstream versions it
    lacks, until a time or until removed (administrators; an event)."""
    backends, who = await who_calls(request)
    req = index_pb2.SetUpstreamRuleRequest(
        caller=who.caller,
        project_name=project,
        rule=rule,
        enabled=True,
        until=timestamp(body.until),
    )
    reply = await backends.index.SetUpstreamRule(req, timeout=backends.timeout)
    return _out(reply)


@router.delete("/upstream/rules/{project}/{rule}", status_code=204, responses=ERRORS)
async def remove_rule(request: Request, project: str, rule: Rule) -> Response:
    """End an exemption or a merge entry (administrators; an event)."""
    backends, who = await who_calls(request)
    await backends.index.SetUpstreamRule(
        index_pb2.SetUpstreamRuleRequest(
            caller=who.caller, project_name=project, rule=rule, enabled=False
        ),
        timeout=backends.timeout,
    )
    return Response(status_code=204)
