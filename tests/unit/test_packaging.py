"""The distribution ships one top-level name, `vestry`, in a wheel and in an editable install."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from hatchling.builders.wheel import WheelBuilder

import vestry.gateway
import vestry.services

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("wheel")
    [built] = WheelBuilder(str(ROOT)).build(directory=str(out), versions=["standard"])
    with zipfile.ZipFile(built) as zf:
        return set(zf.namelist())


def test_the_wheel_has_one_top_level_package(wheel_names: set[str]) -> None:
    top = {name.split("/")[0] for name in wheel_names if not name.startswith("vestry-")}
    assert top == {"vestry"}


@pytest.mark.parametrize(
    "member",
    [
        "vestry/gateway/app.py",
        "vestry/services/index/server.py",
        "vestry/services/index/migrations/env.py",
        "vestry/services/auth/migrations/versions/0001_users_and_tokens.py",
        "vestry/services/storage/backends/s3.py",
        "vestry/auth/v1/auth_pb2.py",
        "vestry/common/errors.py",
        "vestry/cli/main.py",
        # The web UI's files: templates, the stylesheet and the vendored Swagger UI.
        "vestry/gateway/web/templates/project.html",
        "vestry/gateway/web/static/vestry.css",
        "vestry/gateway/web/static/swagger-ui/swagger-ui-bundle.js",
    ],
)
def test_the_wheel_holds_every_process_under_vestry(wheel_names: set[str], member: str) -> None:
    assert member in wheel_names


def test_the_checkout_imports_the_processes_from_its_fixed_folders() -> None:
    # The editable install: vestry/gateway and vestry/services are the top-level folders.
    assert Path(vestry.gateway.__path__[0]).resolve() == ROOT / "gateway"
    assert Path(vestry.services.__path__[0]).resolve() == ROOT / "services"
