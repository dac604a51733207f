"""Who may do what: every access decision of the index, in one place.

A request is allowed only when BOTH hold: the user's roles permit the action on the project,
and the token's restrictions (its caveats, as verified by auth) permit it. Answers leak nothing:
an anonymous caller is asked to authenticate for anything not public, and an authenticated caller
who may not read a project is told it does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vestry.common.errors import DomainError, NotFound, PermissionDenied, Unauthenticated
from vestry.common.vocabulary import OrgRole, Permission, ProjectRole, Visibility

__all__ = [
    "ANONYMOUS",
    "ORG_ROLE_ACTIONS",
    "PUBLISHER_ROLE",
    "ROLES",
    "ROLE_ACTIONS",
    "Action",
    "Caller",
    "OrgAction",
    "ProjectFacts",
    "authorize",
    "authorize_org",
    "can",
    "may_create",
    "may_create_org",
    "require_admin",
    "sees",
]


class Action(StrEnum):
    READ = "read"
    UPLOAD = "upload"
    YANK = "yank"
    DELETE = "delete"
    SET_VISIBILITY = "set-visibility"
    MANAGE_ROLES = "manage-roles"
    SET_STATUS = "set-status"


class OrgAction(StrEnum):
    VIEW = "view"
    MANAGE = "manage"  # members, teams, team roles, moving projects into the organisation


# Token permission each action needs (the token vocabulary is auth's: read, upload, yank,
# manage-tokens, admin). Project management needs a token that says "admin".
TOKEN_PERMISSION = {
    Action.READ: Permission.READ,
    Action.UPLOAD: Permission.UPLOAD,
    Action.YANK: Permission.YANK,
    Action.DELETE: Permission.ADMIN,
    Action.SET_VISIBILITY: Permission.ADMIN,
    Action.MANAGE_ROLES: Permission.ADMIN,
    Action.SET_STATUS: Permission.ADMIN,
}
ORG_TOKEN_PERMISSION = {OrgAction.VIEW: Permission.READ, OrgAction.MANAGE: Permission.ADMIN}

ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    ProjectRole.OWNER: frozenset(Action),
    ProjectRole.MAINTAINER: frozenset({Action.READ, Action.UPLOAD, Action.YANK}),
    ProjectRole.READER: frozenset({Action.READ}),
}
ROLES = tuple(ROLE_ACTIONS)
# What a trusted publisher's token holds on a project while its publisher exists; never
# assignable, and it permits uploading only.
PUBLISHER_ROLE = "trusted-publisher"
# Organisation owners hold the owner role on every project of the organisation; plain members
# get access to projects only through teams.
ORG_ROLE_ACTIONS: dict[str, frozenset[OrgAction]] = {
    OrgRole.OWNER: frozenset(OrgAction),
    OrgRole.MEMBER: frozenset({OrgAction.VIEW}),
}


@dataclass(frozen=True)
class Caller:
    authenticated: bool = False
    user_id: str = ""
    username: str = ""
    admin: bool = False
    token_id: str = ""
    token_project_names: frozenset[str] | None = None
    token_project_ids: frozenset[str] | None = None
    token_permissions: frozenset[str] | None = None
    token_publisher_ids: frozenset[str] | None = None

    def as_member(self) -> dict[str, str]:
        """The caller as a member row keeps it (a role, an organisation seat): id and name."""
        return {"user_id": self.user_id, "username": self.username}

    def token_allows(self, action: Action, project_name: str, project_id: str) -> bool:
        if self.token_permissions is not None and (
            TOKEN_PERMISSION[action] not in self.token_permissions
        ):
            return False
        if self.token_project_names is not None and project_name not in self.token_project_names:
            return False
        # A project that does not exist yet has no ID, so an ID-bound token cannot create one.
        return self.token_project_ids is None or project_id in self.token_project_ids

    def token_allows_org(self, action: OrgAction) -> bool:
        # Organisations span projects: a token bound to projects may not act on them.
        if self.token_project_names is not None or self.token_project_ids is not None:
            return False
        return self.token_permissions is None or ORG_TOKEN_PERMISSION[action] in (
            self.token_permissions
        )


ANONYMOUS = Caller()


@dataclass(frozen=True)
class ProjectFacts:
    id: str
    normalized_name: str
    visibility: str
    roles: frozenset[str]  # the caller's effective roles: direct, via teams, via organisation


def can(caller: Caller, project: ProjectFacts, action: Action) -> bool:
    """True when both the roles and the token allow `action` on `project`."""
    if action is Action.READ and project.visibility == Visibility.PUBLIC:
        return True  # readable without a token, so a narrow token cannot hide it either
    if not caller.authenticated:
        return False
    if not caller.token_allows(action, project.normalized_name, project.id):
        return False
    if caller.token_publisher_ids is not None:
        # Whoever added the publisher, the token acts only as the publisher.
        return action is Action.UPLOAD and PUBLISHER_ROLE in project.roles
    if caller.admin:
        return True
    return any(action in ROLE_ACTIONS.get(role, frozenset()) for role in project.roles)


def sees(caller: Caller, project: ProjectFacts, action: Action) -> bool:
    """Whether `caller`, about to do `action`, may know that `project` exists: when it may read
    it, or do `action` on it (an upload-only token, such as a trusted publisher's)."""
    return can(caller, project, Action.READ) or can(caller, project, action)


def authorize(caller: Caller, project: ProjectFacts | None, action: Action) -> None:
    """Raise the error a client should see unless `caller` may do `action` on `project`.

    `project` is None when it does not exist: the same answer as for one the caller cannot see.
    """
    if project is None or not sees(caller, project, action):
        err: DomainError = (
            NotFound("project not found")
            if caller.authenticated
            else Unauthenticated("authentication required")
        )
        raise err
    assert project is not None
    if can(caller, project, action):
        return
    if not caller.authenticated:
        raise Unauthenticated("authentication required")
    if not caller.token_allows(action, project.normalized_name, project.id):
        raise PermissionDenied(
            f"the token used does not permit {TOKEN_PERMISSION[action].value!r} on "
            f"project {project.normalized_name!r}"
        )
    raise PermissionDenied(
        f"user {caller.username!r} may not {action.value} project {project.normalized_name!r}"
    )


def may_create(caller: Caller, normalized_name: str) -> str | None:
    """None when `caller` may register a new project of this name, else the reason."""
    if not caller.authenticated:
        return "authentication required"
    if not caller.token_allows(Action.UPLOAD, normalized_name, ""):
        return f"the token used does not permit creating project {normalized_name!r}"
    return None


def authorize_org(caller: Caller, exists: bool, org_role: str | None, action: OrgAction) -> None:
    """Raise unless `caller` may do `action` on an organisation where they hold `org_role`.

    Non-members are told the organisation does not exist, like for projects.
    """
    if not caller.authenticated:
        raise Unauthenticated("authentication required")
    visible = exists and (caller.admin or org_role is not None)
    if not visible or not caller.token_allows_org(OrgAction.VIEW):
        raise NotFound("organisation not found")
    if not caller.token_allows_org(action):
        raise PermissionDenied(
            f"the token used does not permit {ORG_TOKEN_PERMISSION[action].value!r} on "
            "organisations (it must not be restricted to projects)"
        )
    if caller.admin or action in ORG_ROLE_ACTIONS.get(org_role or "", frozenset()):
        return
    raise PermissionDenied(f"user {caller.username!r} may not manage this organisation")


def may_create_org(caller: Caller) -> None:
    """Any user may found an organisation (and becomes its owner), with an unrestricted token."""
    if not caller.authenticated:
        raise Unauthenticated("authentication required")
    if not caller.token_allows_org(OrgAction.MANAGE):
        raise PermissionDenied(
            "the token used does not permit creating organisations "
            "(it needs the 'admin' permission and no project restriction)"
        )


def require_admin(caller: Caller, what: str) -> None:
    """Raise unless `caller` is an index administrator using a token that may administer."""
    if not caller.authenticated:
        raise Unauthenticated("authentication required")
    if not caller.admin:
        raise PermissionDenied(f"only index administrators may {what}")
    if not caller.token_allows_org(OrgAction.MANAGE):
        raise PermissionDenied(f"the token used does not permit administration ({what})")
