#!/usr/bin/env bash
# Regenerate the checked-in gRPC code (and mypy stubs) from protos/vestry/*/v1/*.proto.
# CI runs this and fails when the tree changes: the generated code must match the protos.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
# The mypy stub plugins (protoc-gen-mypy, protoc-gen-mypy_grpc) live beside that python.
PATH="$(cd "$(dirname "$PY")" && pwd):$PATH"
find protos/vestry -name '*_pb2*.py' -delete
find protos/vestry -name '*_pb2*.pyi' -delete
"$PY" -m grpc_tools.protoc -Iprotos \
  --python_out=protos --grpc_python_out=protos \
  --mypy_out=protos --mypy_grpc_out=protos \
  protos/vestry/*/v1/*.proto
for d in protos/vestry/*/ protos/vestry/*/v1/; do
  [ -f "$d/__init__.py" ] || : > "$d/__init__.py"
done
