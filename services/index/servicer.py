"""gRPC adapter for the index domain."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator
from datetime import UTC

from vestry.index.v1 import index_pb2, index_pb2_grpc

from vestry.common.errors import InvalidArgument
from vestry.common.grpc_server import Context
from vestry.services.index.convert import (
    blob_reference_to_proto,
    caller_from_proto,
    detail_to_proto,
    event_to_proto,
    file_from_proto,
    file_to_proto,
    organization_to_proto,
    page_to_proto,
    project_to_proto,
    publisher_to_proto,
    release_from_proto,
    reserved_to_proto,
    role_to_proto,
)
from vestry.services.index.page_protos import BuiltPages
from vestry.services.index.service import IndexService
from vestry.services.index.upstream_convert import (
    cached_from_proto,
    cached_to_proto,
    decision_to_proto,
    rule_to_proto,
    when,
)


class IndexServicer(index_pb2_grpc.IndexServiceServicer):
    def __init__(self, service: IndexService) -> None:
        self._s = service
        self._built = BuiltPages()

    async def ListProjects(
        self, request: index_pb2.ListProjectsRequest, context: Context
    ) -> index_pb2.ListProjectsResponse:
        if request.known_serial:
            current = await asyncio.to_thread(self._s.pages.global_serial)
            if current == request.known_serial:
                return index_pb2.ListProjectsResponse(global_serial=current, unchanged=True)
        projects, serial = await asyncio.to_thread(
            self._s.pages.list_projects, caller_from_proto(request.caller)
        )
        return index_pb2.ListProjectsResponse(
            projects=[
                index_pb2.ProjectSummary(
                    name=p.name, normalized_name=p.normalized_name, last_serial=p.last_serial
                )
                for p in projects
            ],
            global_serial=serial,
        )

    async def GetProjectPage(
        self, request: index_pb2.GetProjectPageRequest, context: Context
    ) -> index_pb2.ProjectPage:
        caller = caller_from_proto(request.caller)
        page = await asyncio.to_thread(
            self._s.pages.project_page,
            caller,
            request.name,
            request.known_serial,
            self._built.holds,
        )
        head = page.project
        if page.unchanged and request.known_serial and request.known_serial == head.last_serial:
            # The gateway's rendering is current: the header alone tells it so.
            return index_pb2.ProjectPage(
                project=project_to_proto(head), global_serial=page.global_serial, unchanged=True
            )
        built = self._built.get(head.id, head.last_serial) if page.unchanged else None
        if built is None:
            if page.unchanged:  # evicted since the check: fetch the whole page after all
                page = await asyncio.to_thread(self._s.pages.project_page, caller, request.name)
                head = page.project
            built = await asyncio.to_thread(page_to_proto, page)
            self._built.put(head.id, head.last_serial, built)
        # Shared between requests for the same (project, serial): only the global serial
        # differs, and any value read now is a true "current" serial for every one of them.
        built.global_serial = page.global_serial
        return built

    async def GetFile(
        self, request: index_pb2.GetFileRequest, context: Context
    ) -> index_pb2.FileRecord:
        f = await asyncio.to_thread(
            self._s.pages.get_file,
            caller_from_proto(request.caller),
            request.project_name,
            request.filename,
        )
        return file_to_proto(f)

    async def CheckUpload(
        self, request: index_pb2.CheckUploadRequest, context: Context
    ) -> index_pb2.CheckUploadResponse:
        check = await asyncio.to_thread(
            self._s.uploads.check_upload,
            caller_from_proto(request.caller),
            request.project_name,
            request.version,
            request.filename,
            request.sha256,
            request.blake2b_256,
        )
        outcome = (
            index_pb2.CheckUploadResponse.IDENTICAL
            if check.identical
            else index_pb2.CheckUploadResponse.NEW
        )
        return index_pb2.CheckUploadResponse(
            outcome=outcome,
            project_exists=check.project_exists,
            project_id=check.project_id,
            project_name=check.project_name,
        )

    async def CommitFile(
        self, request: index_pb2.CommitFileRequest, context: Context
    ) -> index_pb2.CommitFileResponse:
        result = await asyncio.to_thread(
            self._s.uploads.commit_file,
            caller_from_proto(request.caller),
            request.project_name,
            release_from_proto(request.release),
            file_from_proto(request.file),
        )
        return index_pb2.CommitFileResponse(
            already_present=result.already_present,
            file=file_to_proto(result.file),
            serial=result.serial,
        )

    async def ListBlobReferences(
        self, request: index_pb2.ListBlobReferencesRequest, context: Context
    ) -> AsyncIterator[index_pb2.ListBlobReferencesResponse]:
        pages = self._s.blob_references()
        while (refs := await asyncio.to_thread(next, pages, None)) is not None:
            yield index_pb2.ListBlobReferencesResponse(
                references=[blob_reference_to_proto(r) for r in refs]
            )

    # ---- management ------------------------------------------------------------------------

    async def GetProject(
        self, request: index_pb2.ProjectRequest, context: Context
    ) -> index_pb2.ProjectDetail:
        detail = await asyncio.to_thread(
            self._s.management.get_project, caller_from_proto(request.caller), request.name
        )
        return detail_to_proto(detail)

    async def SetYanked(
        self, request: index_pb2.SetYankedRequest, context: Context
    ) -> index_pb2.MutationResponse:
        serial = await asyncio.to_thread(
            functools.partial(
                self._s.management.set_yanked,
                caller_from_proto(request.caller),
                request.project_name,
                version=request.version,
                filename=request.filename,
                yanked=request.yanked,
                reason=request.reason,
            )
        )
        return index_pb2.MutationResponse(serial=serial)

    async def Delete(
        self, request: index_pb2.DeleteRequest, context: Context
    ) -> index_pb2.MutationResponse:
        serial = await asyncio.to_thread(
            functools.partial(
                self._s.management.delete,
                caller_from_proto(request.caller),
                request.project_name,
                version=request.version,
                filename=request.filename,
                whole_project=request.whole_project,
            )
        )
        return index_pb2.MutationResponse(serial=serial)

    async def SetVisibility(
        self, request: index_pb2.SetVisibilityRequest, context: Context
    ) -> index_pb2.MutationResponse:
        serial = await asyncio.to_thread(
            self._s.management.set_visibility,
            caller_from_proto(request.caller),
            request.project_name,
            request.visibility,
        )
        return index_pb2.MutationResponse(serial=serial)

    async def SetStatus(
        self, request: index_pb2.SetStatusRequest, context: Context
    ) -> index_pb2.MutationResponse:
        serial = await asyncio.to_thread(
            self._s.management.set_status,
            caller_from_proto(request.caller),
            request.project_name,
            request.status,
            request.reason,
        )
        return index_pb2.MutationResponse(serial=serial)

    async def SetRole(
        self, request: index_pb2.SetRoleRequest, context: Context
    ) -> index_pb2.RoleEntry:
        role = await asyncio.to_thread(
            self._s.management.set_role,
            caller_from_proto(request.caller),
            request.project_name,
            request.user_id,
            request.username,
            request.role,
        )
        return role_to_proto(role)

    async def RemoveRole(
        self, request: index_pb2.RemoveRoleRequest, context: Context
    ) -> index_pb2.MutationResponse:
        await asyncio.to_thread(
            self._s.management.remove_role,
            caller_from_proto(request.caller),
            request.project_name,
            request.username,
        )
        return index_pb2.MutationResponse()

    async def TransferProject(
        self, request: index_pb2.TransferProjectRequest, context: Context
    ) -> index_pb2.MutationResponse:
        await asyncio.to_thread(
            self._s.management.transfer_to_organization,
            caller_from_proto(request.caller),
            request.project_name,
            request.organization,
        )
        return index_pb2.MutationResponse()

    async def ListEvents(
        self, request: index_pb2.ListEventsRequest, context: Context
    ) -> index_pb2.ListEventsResponse:
        events = await asyncio.to_thread(
            self._s.management.list_events,
            caller_from_proto(request.caller),
            request.project_name,
            request.limit or 100,
            request.before_id,
        )
        return index_pb2.ListEventsResponse(events=[event_to_proto(e) for e in events])

    async def CreateOrganization(
        self, request: index_pb2.OrganizationRequest, context: Context
    ) -> index_pb2.Organization:
        org = await asyncio.to_thread(
            self._s.orgs.create, caller_from_proto(request.caller), request.name
        )
        return organization_to_proto(org)

    async def GetOrganization(
        self, request: index_pb2.OrganizationRequest, context: Context
    ) -> index_pb2.Organization:
        org = await asyncio.to_thread(
            self._s.orgs.get, caller_from_proto(request.caller), request.name
        )
        return organization_to_proto(org)

    async def SetOrganizationMember(
        self, request: index_pb2.SetOrganizationMemberRequest, context: Context
    ) -> index_pb2.RoleEntry:
        role = await asyncio.to_thread(
            self._s.orgs.set_member,
            caller_from_proto(request.caller),
            request.organization,
            request.user_id,
            request.username,
            request.role,
        )
        return role_to_proto(role)

    async def RemoveOrganizationMember(
        self, request: index_pb2.RemoveOrganizationMemberRequest, context: Context
    ) -> index_pb2.MutationResponse:
        await asyncio.to_thread(
            self._s.orgs.remove_member,
            caller_from_proto(request.caller),
            request.organization,
            request.username,
        )
        return index_pb2.MutationResponse()

    async def CreateTeam(
        self, request: index_pb2.TeamRequest, context: Context
    ) -> index_pb2.MutationResponse:
        await asyncio.to_thread(
            self._s.orgs.create_team,
            caller_from_proto(request.caller),
            request.organization,
            request.team,
        )
        return index_pb2.MutationResponse()

    async def DeleteTeam(
        self, request: index_pb2.TeamRequest, context: Context
    ) -> index_pb2.MutationResponse:
        await asyncio.to_thread(
            self._s.orgs.delete_team,
            caller_from_proto(request.caller),
            request.organization,
            request.team,
        )
        return index_pb2.MutationResponse()

    async def AddTeamMember(
        self, request: index_pb2.TeamMemberRequest, context: Context
    ) -> index_pb2.MutationResponse:
        await asyncio.to_thread(
            self._s.orgs.add_team_member,
            caller_from_proto(request.caller),
            request.organization,
            request.team,
            request.user_id,
            request.username,
        )
        return index_pb2.MutationResponse()

    async def RemoveTeamMember(
        self, request: index_pb2.TeamMemberRequest, context: Context
    ) -> index_pb2.MutationResponse:
        await asyncio.to_thread(
            self._s.orgs.remove_team_member,
            caller_from_proto(request.caller),
            request.organization,
            request.team,
            request.username,
        )
        return index_pb2.MutationResponse()

    async def SetTeamRole(
        self, request: index_pb2.SetTeamRoleRequest, context: Context
    ) -> index_pb2.MutationResponse:
        await asyncio.to_thread(
            self._s.orgs.set_team_role,
            caller_from_proto(request.caller),
            request.organization,
            request.team,
            request.project_name,
            request.role,
        )
        return index_pb2.MutationResponse()

    async def ReserveName(
        self, request: index_pb2.ReserveNameRequest, context: Context
    ) -> index_pb2.ReservedName:
        reserved = await asyncio.to_thread(
            self._s.reserved.reserve,
            caller_from_proto(request.caller),
            request.pattern,
            request.organization,
        )
        return reserved_to_proto(reserved)

    async def UnreserveName(
        self, request: index_pb2.ReserveNameRequest, context: Context
    ) -> index_pb2.MutationResponse:
        await asyncio.to_thread(
            self._s.reserved.unreserve, caller_from_proto(request.caller), request.pattern
        )
        return index_pb2.MutationResponse()

    async def ListReservedNames(
        self, request: index_pb2.ListReservedNamesRequest, context: Context
    ) -> index_pb2.ListReservedNamesResponse:
        names = await asyncio.to_thread(
            self._s.reserved.list_reserved, caller_from_proto(request.caller)
        )
        return index_pb2.ListReservedNamesResponse(names=[reserved_to_proto(r) for r in names])

    async def AddTrustedPublisher(
        self, request: index_pb2.AddTrustedPublisherRequest, context: Context
    ) -> index_pb2.TrustedPublisher:
        publisher = await asyncio.to_thread(
            self._s.publishers.add,
            caller_from_proto(request.caller),
            request.project_name,
            request.issuer,
            dict(request.claims),
        )
        return publisher_to_proto(publisher)

    async def ListTrustedPublishers(
        self, request: index_pb2.ProjectRequest, context: Context
    ) -> index_pb2.ListTrustedPublishersResponse:
        publishers = await asyncio.to_thread(
            self._s.publishers.of_project, caller_from_proto(request.caller), request.name
        )
        return index_pb2.ListTrustedPublishersResponse(
            publishers=[publisher_to_proto(p) for p in publishers]
        )

    async def RemoveTrustedPublisher(
        self, request: index_pb2.RemoveTrustedPublisherRequest, context: Context
    ) -> index_pb2.MutationResponse:
        serial = await asyncio.to_thread(
            self._s.publishers.remove,
            caller_from_proto(request.caller),
            request.project_name,
            request.publisher_id,
        )
        return index_pb2.MutationResponse(serial=serial)

    async def MatchTrustedPublishers(
        self, request: index_pb2.MatchTrustedPublishersRequest, context: Context
    ) -> index_pb2.MatchTrustedPublishersResponse:
        try:
            claims = json.loads(request.claims_json)
        except ValueError as exc:
            raise InvalidArgument("claims_json is not JSON") from exc
        if not isinstance(claims, dict):
            raise InvalidArgument("claims_json is not a JSON object")
        matches = await asyncio.to_thread(self._s.publishers.match, request.issuer, claims)
        return index_pb2.MatchTrustedPublishersResponse(
            matches=[
                index_pb2.PublisherMatch(
                    publisher_id=x.publisher_id,
                    project_id=x.project_id,
                    project_name=x.project_name,
                    created_by_id=x.created_by_id,
                )
                for x in matches
            ]
        )

    # ---- upstream proxy (docs/proxy.md) ----------------------------------------------------

    async def DecideUpstream(
        self, request: index_pb2.DecideUpstreamRequest, context: Context
    ) -> index_pb2.UpstreamDecision:
        decision = await asyncio.to_thread(
            self._s.upstream.decide, caller_from_proto(request.caller), request.name
        )
        return decision_to_proto(decision)

    async def GetUpstreamFile(
        self, request: index_pb2.GetUpstreamFileRequest, context: Context
    ) -> index_pb2.UpstreamFile:
        cached = await asyncio.to_thread(
            self._s.upstream.get_file,
            caller_from_proto(request.caller),
            request.project_name,
            request.filename,
            request.metadata,
        )
        return cached_to_proto(cached)

    async def RecordUpstreamFile(
        self, request: index_pb2.RecordUpstreamFileRequest, context: Context
    ) -> index_pb2.UpstreamFile:
        cached = await asyncio.to_thread(
            self._s.upstream.record_file,
            caller_from_proto(request.caller),
            cached_from_proto(request.file),
        )
        return cached_to_proto(cached)

    async def RecordUpstreamPage(
        self, request: index_pb2.RecordUpstreamPageRequest, context: Context
    ) -> index_pb2.MutationResponse:
        await asyncio.to_thread(
            self._s.upstream.record_page,
            request.project_name,
            request.upstream_url,
            request.blob_key,
        )
        return index_pb2.MutationResponse()

    async def SetUpstreamRule(
        self, request: index_pb2.SetUpstreamRuleRequest, context: Context
    ) -> index_pb2.UpstreamRule:
        rule = await asyncio.to_thread(
            self._s.upstream.set_rule,
            caller_from_proto(request.caller),
            request.project_name,
            request.rule,
            request.enabled,
            when(request, "until"),
        )
        return rule_to_proto(rule)

    async def ListUpstreamRules(
        self, request: index_pb2.ListUpstreamRulesRequest, context: Context
    ) -> index_pb2.ListUpstreamRulesResponse:
        rules = await asyncio.to_thread(
            self._s.upstream.list_rules, caller_from_proto(request.caller)
        )
        return index_pb2.ListUpstreamRulesResponse(rules=[rule_to_proto(r) for r in rules])

    # ---- download counts and imports -------------------------------------------------------

    async def RecordDownloads(
        self, request: index_pb2.RecordDownloadsRequest, context: Context
    ) -> index_pb2.MutationResponse:
        increments = [(c.project_name, c.filename, c.count) for c in request.counts]
        await asyncio.to_thread(self._s.downloads.record, increments)
        return index_pb2.MutationResponse()

    async def GetDownloadCounts(
        self, request: index_pb2.ProjectRequest, context: Context
    ) -> index_pb2.DownloadCounts:
        counts = await asyncio.to_thread(
            self._s.downloads.counts, caller_from_proto(request.caller), request.name
        )
        return index_pb2.DownloadCounts(
            project_name=counts.project_name,
            total=counts.total,
            files=[
                index_pb2.DownloadCount(
                    project_name=counts.project_name, filename=name, count=count
                )
                for name, count in sorted(counts.files.items())
            ],
        )

    async def SetUploadTime(
        self, request: index_pb2.SetUploadTimeRequest, context: Context
    ) -> index_pb2.MutationResponse:
        serial = await asyncio.to_thread(
            self._s.downloads.set_upload_time,
            caller_from_proto(request.caller),
            request.project_name,
            request.filename,
            request.upload_time.ToDatetime(tzinfo=UTC),
        )
        return index_pb2.MutationResponse(serial=serial)
