"""The index domain, composed: projects, releases, files and the access rules around them.
No gRPC here.

Each concept is its own part over one session factory: `pages` (what installers read),
`uploads`, `management` (changes to a project and its roles), `roles` (effective roles and the
access check), `orgs` (organisations and teams), `reserved` (reserved names), `publishers`
(trusted publishers), `upstream` (the upstream proxy's decisions) and `downloads` (download
counts and imported upload times).
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from vestry.common.vocabulary import Visibility
from vestry.services.index.blobrefs import PAGE, BlobReference, blob_references
from vestry.services.index.downloads import Downloads
from vestry.services.index.management import VISIBILITIES, Management
from vestry.services.index.orgs import Organizations
from vestry.services.index.pages import Pages
from vestry.services.index.publishers import TrustedPublishers
from vestry.services.index.reserved import ReservedNames
from vestry.services.index.roles import Roles
from vestry.services.index.uploads import Uploads
from vestry.services.index.upstream import UpstreamConfig, UpstreamDecisions

__all__ = ["IndexService"]


class IndexService:
    def __init__(
        self,
        engine: Engine,
        default_visibility: str = Visibility.PRIVATE,
        allow_local_versions: bool = True,
        upstream: UpstreamConfig | None = None,
    ) -> None:
        """The parts of the index over `engine`; new projects get `default_visibility`
        ('private' or 'public', else ValueError); uploads may have PEP 440 local versions
        unless `allow_local_versions` is false (PyPI's rule); `upstream` configures the proxy's
        decisions (default: no upstream)."""
        if default_visibility not in VISIBILITIES:
            raise ValueError("default_visibility is 'private' or 'public'")
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.roles = Roles(self._sessions)
        self.orgs = Organizations(self._sessions)
        self.reserved = ReservedNames(self._sessions, self.orgs)
        self.pages = Pages(engine, self._sessions, self.roles)
        self.uploads = Uploads(
            self._sessions,
            self.roles,
            self.reserved,
            self.pages,
            default_visibility,
            allow_local_versions=allow_local_versions,
        )
        self.management = Management(self._sessions, self.roles, self.orgs)
        self.publishers = TrustedPublishers(self._sessions, self.roles.facts)
        self.upstream = UpstreamDecisions(
            self._sessions, self.reserved, upstream or UpstreamConfig()
        )
        self.downloads = Downloads(self._sessions, self.roles)

    def blob_references(self, page: int = PAGE) -> Iterator[list[BlobReference]]:
        """Every blob the index references, in pages of about `page` files (see
        `blobrefs.blob_references`); raises nothing of its own."""
        return blob_references(self._sessions, page)
