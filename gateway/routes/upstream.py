"""Management of the upstream proxy's per-project rules (`/api/v1/upstream/…`): cooldown
exemptions and the merge allow-list. The index decides who may (administrators)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Body, Request
from fastapi.responses import Response
from vestry.index.v1 import index_pb2

from vestry.common.protoconv import timestamp
from vestry.gateway.routes._common import ERRORS, index_call, management_router, out_of
from vestry.gateway.schemas import UpstreamRuleIn, UpstreamRuleOut

__all__ = ["router"]

router = management_router()
Rule = Literal["exempt", "merge"]


def _out(r: index_pb2.UpstreamRule) -> UpstreamRuleOut:
    return out_of(UpstreamRuleOut, r, project=r.project_name)


async def _set(request: Request, project: str, rule: Rule, **change: Any) -> Any:
    return await index_call(
        request,
        "SetUpstreamRule",
        index_pb2.SetUpstreamRuleRequest(project_name=project, rule=rule, **change),
    )


@router.get("/upstream/rules", response_model=list[UpstreamRuleOut], responses=ERRORS)
async def list_rules(request: Request) -> list[UpstreamRuleOut]:
    """Every cooldown exemption and merge allow-list entry (administrators)."""
    reply = await index_call(request, "ListUpstreamRules", index_pb2.ListUpstreamRulesRequest())
    return [_out(r) for r in reply.rules]


@router.put("/upstream/rules/{project}/{rule}", response_model=UpstreamRuleOut, responses=ERRORS)
async def set_rule(
    request: Request, project: str, rule: Rule, body: Annotated[UpstreamRuleIn, Body()]
) -> UpstreamRuleOut:
    """Exempt a project from the cooldown, or let a local project merge upstream versions it
    lacks, until a time or until removed (administrators; an event)."""
    reply = await _set(request, project, rule, enabled=True, until=timestamp(body.until))
    return _out(reply)


@router.delete("/upstream/rules/{project}/{rule}", status_code=204, responses=ERRORS)
async def remove_rule(request: Request, project: str, rule: Rule) -> Response:
    """End an exemption or a merge entry (administrators; an event)."""
    await _set(request, project, rule, enabled=False)
    return Response(status_code=204)
