"""Render a kustomize overlay offline, for validation only (no kustomize binary here).

Implements exactly the kustomization features Vestry's manifests use, and refuses any other
key, so a new feature in an overlay fails the test instead of being silently ignored:
resources (files and directories), namespace, labels (metadata only), images, secretGenerator
(envs) with disableNameSuffixHash, and patches given as strategic-merge files.
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {
    "apiVersion",
    "kind",
    "namespace",
    "resources",
    "labels",
    "images",
    "secretGenerator",
    "generatorOptions",
    "patches",
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}

Doc = dict[str, Any]


def load_docs(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def merge(base: Any, patch: Any) -> Any:
    """Strategic merge as kubectl does it for the shapes used here: maps merge key by key,
    lists of named items (containers, env, ports, volumes) merge by name, other lists replace."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(i, dict) and "name" in i for i in base + patch)
    ):
        out_list = [copy.deepcopy(i) for i in base]
        for item in patch:
            for n, existing in enumerate(out_list):
                if existing["name"] == item["name"]:
                    out_list[n] = merge(existing, item)
                    break
            else:
                out_list.append(copy.deepcopy(item))
        return out_list
    return copy.deepcopy(patch)


def _containers(doc: Doc) -> list[Doc]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return [*spec.get("containers", []), *spec.get("initContainers", [])]


def render(directory: Path) -> list[Doc]:
    k = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(k) - SUPPORTED
    if unknown:
        raise ValueError(f"{directory}: kustomize features not rendered here: {sorted(unknown)}")
    docs: list[Doc] = []
    for entry in k.get("resources", []):
        path = directory / entry
        docs += render(path) if path.is_dir() else load_docs(path)
    for gen in k.get("secretGenerator", []):
        if not k.get("generatorOptions", {}).get("disableNameSuffixHash"):
            raise ValueError("secretGenerator name hashes are not rendered here")
        data: dict[str, str] = {}
        for env_file in gen.get("envs", []):
            for line in (directory / env_file).read_text().splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    key, _, value = line.partition("=")
                    data[key.strip()] = base64.b64encode(value.encode()).decode()
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": gen["name"]},
                "type": "Opaque",
                "data": data,
            }
        )
    for patch in k.get("patches", []):
        if set(patch) != {"path"}:
            raise ValueError(f"only strategic-merge patch files are rendered here: {patch}")
        for p in load_docs(directory / patch["path"]):
            targets = [
                d
                for d in docs
                if d["kind"] == p["kind"] and d["metadata"]["name"] == p["metadata"]["name"]
            ]
            if len(targets) != 1:
                raise ValueError(f"patch {patch['path']} matches {len(targets)} resources")
            docs[docs.index(targets[0])] = merge(targets[0], p)
    for group in k.get("labels", []):
        for doc in docs:
            doc.setdefault("metadata", {}).setdefault("labels", {}).update(group["pairs"])
    for image in k.get("images", []):
        for doc in docs:
            for container in _containers(doc):
                name = container["image"].split("@")[0].rsplit(":", 1)[0]
                if name == image["name"]:
                    container["image"] = f"{image.get('newName', name)}:{image['newTag']}"
    if "namespace" in k:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = k["namespace"]
    return docs
