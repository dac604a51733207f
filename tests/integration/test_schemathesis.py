"""schemathesis against the gateway's own OpenAPI description, on a running `vestry up`: every
operation, anonymous and with an administrator's token, valid and invalid inputs alike, and
never a 5xx (schemathesis' `not_a_server_error`).

The schema is the gateway's own (`create_app(...).openapi()`, checked to be the one
`/api/openapi.json` serves), so the tests are generated per operation at collection time; the
requests go to the running gateway. Bounded and deterministic: a fixed number of examples per
operation, derandomized, no example database, no shrinking. Routes the schema does not describe
in full (the upload form, the file downloads' headers) are fuzzed in
tests/integration/test_fuzz_http.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.case import Case

from tests.support.vestry_up import RunningVestry, module_vestry
from vestry.gateway.app import create_app
from vestry.gateway.settings import GatewaySettings

EXAMPLES = 10  # per operation and caller; docs/security.md quotes it
OPENAPI = create_app(GatewaySettings(VESTRY_INTERNAL_SECRET="x" * 64)).openapi()  # type: ignore[call-arg]
schema = schemathesis.openapi.from_dict(OPENAPI)
BOUNDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def vestry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningVestry]:
    yield from module_vestry(tmp_path_factory, "schemathesis")


@pytest.fixture(scope="module")
def admin_token(vestry: RunningVestry) -> str:
    return vestry.create_user("fuzz-admin", admin=True)


def test_fuzzed_schema_is_the_served_one(vestry: RunningVestry) -> None:
    assert httpx.get(f"{vestry.base}/api/openapi.json").json() == OPENAPI


@schema.parametrize()
@BOUNDED
def test_anonymous(case: Case, vestry: RunningVestry) -> None:
    case.call_and_validate(base_url=vestry.base, checks=[not_a_server_error], timeout=30)


@schema.parametrize()
@BOUNDED
def test_administrator(case: Case, vestry: RunningVestry, admin_token: str) -> None:
    case.call_and_validate(
        base_url=vestry.base,
        checks=[not_a_server_error],
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=30,
    )
