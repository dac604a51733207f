"""Generates the gRPC code and its mypy stubs from protos/vestry/*/v1/*.proto at build time.

The generated files are not committed: every install builds them from the .proto files, so they
cannot go stale. Hatchling runs this hook for `pip install -e .` (the files land beside the
.proto files, where the editable install imports them) and for the wheel (which ships them as
artifacts, see pyproject.toml). `python hatch_build.py` regenerates them in a checkout without
reinstalling (`make protos`), after a .proto file changes.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PROTOS = "protos"
PLUGINS = ("protoc-gen-mypy", "protoc-gen-mypy_grpc")


def _plugin(name: str) -> str:
    # The stub plugins are scripts of mypy-protobuf: on PATH in pip's isolated build
    # environment, beside the interpreter in a virtualenv.
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        raise RuntimeError(f"{name} not found: install mypy-protobuf (a build dependency)")
    return found


def generate(root: Path) -> list[Path]:
    """Writes the generated files under root/protos; returns them all.

    protoc writes into a scratch folder first, and a file in the tree is replaced (atomically)
    only when its content differs, so a process importing the generated code while another
    builds a wheel never reads half a file.
    """
    from grpc_tools import protoc

    source = root / PROTOS
    protos = sorted(str(p.relative_to(source)) for p in source.glob("vestry/*/v1/*.proto"))
    if not protos:
        raise RuntimeError(f"no .proto files under {source}")
    well_known = resources.files("grpc_tools") / "_proto"
    with tempfile.TemporaryDirectory() as scratch:
        args = [
            "grpc_tools.protoc",
            f"-I{source}",
            f"-I{well_known}",
            *(f"--plugin={name}={_plugin(name)}" for name in PLUGINS),
            f"--python_out={scratch}",
            f"--grpc_python_out={scratch}",
            f"--mypy_out={scratch}",
            f"--mypy_grpc_out={scratch}",
            *(str(source / p) for p in protos),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError("grpc_tools.protoc failed on " + ", ".join(protos))
        written = []
        for new in sorted(Path(scratch).rglob("*_pb2*.py*")):
            target = source / new.relative_to(scratch)
            content = new.read_bytes()
            if not target.is_file() or target.read_bytes() != content:
                staged = target.with_name(f".{target.name}.tmp")
                staged.write_bytes(content)
                os.replace(staged, target)
            written.append(target)
    return written


class ProtosBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        generate(Path(self.root))


if __name__ == "__main__":
    for path in generate(Path(__file__).resolve().parent):
        print(path)
