"""gRPC adapter for the index domain."""

from __future__ import annotations

import asyncio

from vestry.index.v1 import index_pb2, index_pb2_grpc

from services.index.convert import (
    caller_from_proto,
    file_from_proto,
    file_to_proto,
    project_to_proto,
    release_from_proto,
    release_to_proto,
)
from services.index.service import IndexService
from vestry.common.grpc_server import Context


class IndexServicer(index_pb2_grpc.IndexServiceServicer):
    def __init__(self, service: IndexService) -> None:
        self._s = service

    async def ListProjects(
        self, request: index_pb2.ListProjectsRequest, context: Context
    ) -> index_pb2.ListProjectsResponse:
        projects, serial = await asyncio.to_thread(
            self._s.list_projects, caller_from_proto(request.caller)
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
        page = await asyncio.to_thread(
            self._s.project_page, caller_from_proto(request.caller), request.name
        )
        return index_pb2.ProjectPage(
            project=project_to_proto(page.project),
            releases=[release_to_proto(r) for r in page.releases],
            files=[file_to_proto(f) for f in page.files],
            global_serial=page.global_serial,
        )

    async def GetFile(
        self, request: index_pb2.GetFileRequest, context: Context
    ) -> index_pb2.FileRecord:
        f = await asyncio.to_thread(
            self._s.get_file,
            caller_from_proto(request.caller),
            request.project_name,
            request.filename,
        )
        return file_to_proto(f)

    async def CheckUpload(
        self, request: index_pb2.CheckUploadRequest, context: Context
    ) -> index_pb2.CheckUploadResponse:
        check = await asyncio.to_thread(
            self._s.check_upload,
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
            self._s.commit_file,
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
