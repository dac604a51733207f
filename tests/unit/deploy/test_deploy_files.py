"""The deployment files, validated offline: docker-compose.yml with docker-compose 1.29, the
Kubernetes manifests with kubernetes-validate --strict (base files one by one, every overlay as
`kubectl kustomize` renders it), and every VESTRY_* variable they set checked against the
settings the code reads."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from tests.support.tools import tool
from vestry.gateway.settings import GatewaySettings
from vestry.services.auth.settings import AuthSettings
from vestry.services.index.settings import IndexSettings
from vestry.services.storage.settings import StorageSettings

REPO = Path(__file__).resolve().parents[3]
K8S = REPO / "deploy" / "k8s"
BASE_FILES = sorted(p for p in (K8S / "base").glob("*.yaml") if p.name != "kustomization.yaml")
KUBERNETES_VERSION = "1.30.0"
MIGRATE_NAMES = {"VESTRY_AUTH_DATABASE_URL", "VESTRY_INDEX_DATABASE_URL"}
SETTINGS: dict[str, type[BaseSettings]] = {
    "auth": AuthSettings,
    "index": IndexSettings,
    "storage": StorageSettings,
    "gateway": GatewaySettings,
}


def env_names(cls: type[BaseSettings]) -> tuple[set[str], set[str]]:
    """(every variable `cls` reads, the ones it requires)."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    names: set[str] = set()
    required: set[str] = set()
    for field, info in cls.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            choices = {c for c in alias.choices if isinstance(c, str)}
        else:
            choices = {(prefix + field).upper()}
        names |= choices
        if info.is_required():
            required |= choices
    return names, required


def process_names(args: list[str]) -> tuple[set[str], set[str]]:
    if args == ["migrate"]:
        return MIGRATE_NAMES, MIGRATE_NAMES
    assert args[0] == "serve" and len(args) == 2, args
    return env_names(SETTINGS[args[1]])


def load_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def render_overlay(name: str, tmp: Path) -> Path:
    """`kubectl kustomize` of overlay `name`, written to a file, in a copy of deploy/ where the
    env files the overlay's generators read are their *.example (never a real local secret)."""
    root = tmp / "deploy"
    shutil.copytree(REPO / "deploy", root, ignore=shutil.ignore_patterns("vestry.env"))
    overlay = root / "k8s" / "overlays" / name
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    generators = kustomization.get("secretGenerator", []) + kustomization.get(
        "configMapGenerator", []
    )
    for source in (f for g in generators for f in g.get("envs", []) + g.get("files", [])):
        target = overlay / source.rsplit("=", 1)[-1]
        if target.exists():
            continue
        own = target.with_name(target.name + ".example")
        examples = [own] if own.exists() else sorted(overlay.glob("*.example"))
        assert len(examples) == 1, f"{name}: no single *.example to stand in for {source}"
        shutil.copy(examples[0], target)
    result = subprocess.run(
        [tool("kubectl"), "kustomize", str(overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = tmp / f"{name}.yaml"
    out.write_text(result.stdout)
    return out


def _no_secrets_env() -> dict[str, str]:
    names = ("VESTRY_", "POSTGRES_", "MINIO_", "COMPOSE_")
    return {k: v for k, v in os.environ.items() if not k.startswith(names)}


def compose(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("docker-compose"), "-f", str(REPO / "docker-compose.yml"), *args],
        capture_output=True,
        text=True,
        env=_no_secrets_env(),
        cwd=REPO,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def compose_config() -> dict[str, Any]:
    """The compose file as docker-compose itself resolves it (anchors, interpolation)."""
    result = compose("--env-file", str(REPO / "deploy" / "env.example"), "config")
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def test_compose_file_is_valid() -> None:
    result = compose("--env-file", str(REPO / "deploy" / "env.example"), "config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_run_without_the_secrets_file() -> None:
    result = compose("config", "-q")
    assert result.returncode != 0
    assert "deploy/vestry.env" in result.stderr


def test_compose_environment_matches_the_settings_the_code_reads(
    compose_config: dict[str, Any],
) -> None:
    vestry = {n: s for n, s in compose_config["services"].items() if "build" in s}
    assert set(vestry) == {"migrate", "auth", "index", "storage", "gateway"}
    for name, service in vestry.items():
        known, required = process_names(service["command"])
        names = set(service.get("environment", {}))
        assert names <= known, f"{name}: the code reads none of {sorted(names - known)}"
        assert required <= names, f"{name}: {sorted(required - names)} required but not set"


def test_compose_services_are_healthchecked_restarted_and_pinned(
    compose_config: dict[str, Any],
) -> None:
    services = compose_config["services"]
    for name, service in services.items():
        if name == "migrate":
            assert service["restart"] == "no"
            continue
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"], name
        if "build" not in service:
            assert re.search(r":[\w.-]*\d[\w.-]*$", service["image"]), f"{name}: unpinned image"
    for svc, port in (("auth", 50051), ("index", 50052), ("storage", 50053)):
        assert services[svc]["healthcheck"]["test"] == [
            "CMD",
            "vestry",
            "healthcheck",
            f"127.0.0.1:{port}",
        ]
        listen = services[svc]["environment"][f"VESTRY_{svc.upper()}_LISTEN"]
        assert listen.endswith(f":{port}")
        gateway_addr = services["gateway"]["environment"][f"VESTRY_{svc.upper()}_ADDRESS"]
        assert gateway_addr == f"dns:///{svc}:{port}"
    assert services["gateway"]["ports"][0]["target"] == 8080
    for svc in ("auth", "index", "storage"):
        deps = services[svc]["depends_on"]
        assert svc == "storage" or deps["migrate"]["condition"] == "service_completed_successfully"
    assert set(compose_config["volumes"]) == {"postgres-data", "minio-data"}


def kubernetes_validate(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("path", [*BASE_FILES, K8S / "secret.template.yaml"], ids=lambda p: p.name)
def test_base_manifest_is_valid(path: Path) -> None:
    result = kubernetes_validate(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout + result.stderr


def test_the_validator_refuses_an_unknown_field(tmp_path: Path) -> None:
    doc = load_docs(K8S / "base" / "auth.yaml")[0]
    doc["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    assert kubernetes_validate(bad).returncode != 0


OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())


@pytest.mark.parametrize("name", OVERLAYS)
def test_overlay_renders_and_is_valid(name: str, tmp_path: Path) -> None:
    result = kubernetes_validate(render_overlay(name, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout + result.stderr


@pytest.fixture(scope="module")
def overlay(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The example overlay as kubectl renders it, with the example secrets file in place."""
    return load_docs(render_overlay("example", tmp_path_factory.mktemp("k8s")))


def test_example_overlay_renders_what_production_needs(overlay: list[dict[str, Any]]) -> None:
    kinds = sorted({d["kind"] for d in overlay})
    assert kinds == [
        "Deployment",
        "HorizontalPodAutoscaler",
        "Ingress",
        "Job",
        "Namespace",
        "PodDisruptionBudget",
        "Secret",
        "Service",
    ]
    for doc in overlay:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "vestry", doc["metadata"]["name"]
        for c in _pod(doc).get("containers", []):
            assert c["image"] == "registry.example.com/vestry:0.1.0"
    gateway = _by(overlay, "Deployment", "vestry-gateway")
    assert gateway["spec"]["replicas"] == 3
    env = {e["name"]: e for e in gateway["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["VESTRY_LOG_LEVEL"]["value"] == "WARNING"
    assert "secretKeyRef" in env["VESTRY_INTERNAL_SECRET"]["valueFrom"]  # kept by the merge


def _pod(doc: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = doc.get("spec", {}).get("template", {}).get("spec", {})
    return pod


def _by(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def test_workloads_read_only_settings_the_code_knows_and_every_secret_exists(
    overlay: list[dict[str, Any]],
) -> None:
    secret_keys = set(load_docs(K8S / "secret.template.yaml")[0]["stringData"])
    example_keys = {
        line.split("=", 1)[0]
        for line in (K8S / "overlays" / "example" / "secrets.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert example_keys == secret_keys
    referenced: set[str] = set()
    for doc in overlay:
        for c in _pod(doc).get("containers", []):
            known, required = process_names(c["args"])
            names = {e["name"] for e in c["env"]}
            assert names <= known, f"{c['name']}: the code reads none of {names - known}"
            assert required <= names, f"{c['name']}: {required - names} required but not set"
            for e in c["env"]:
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == "vestry-secrets"
                    assert ref["key"] == e["name"]
                    referenced.add(ref["key"])
    assert referenced == secret_keys


@pytest.mark.parametrize("component", ["auth", "index", "storage", "gateway"])
def test_each_process_is_probed_autoscaled_protected_and_bounded(
    overlay: list[dict[str, Any]], component: str
) -> None:
    name = f"vestry-{component}"
    deployment = _by(overlay, "Deployment", name)
    pod = _pod(deployment)
    (container,) = pod["containers"]
    assert container["args"] == ["serve", component]
    port = container["ports"][0]["containerPort"]
    for probe in ("readinessProbe", "livenessProbe"):
        if component == "gateway":
            assert container[probe]["httpGet"]["path"] == "/healthz"
        else:
            assert container[probe]["grpc"]["port"] == port
    assert set(container["resources"]) == {"requests", "limits"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    labels = deployment["spec"]["selector"]["matchLabels"]
    hpa = _by(overlay, "HorizontalPodAutoscaler", name)
    assert hpa["spec"]["scaleTargetRef"]["name"] == name
    assert hpa["spec"]["minReplicas"] >= 2
    pdb = _by(overlay, "PodDisruptionBudget", name)
    assert pdb["spec"]["selector"]["matchLabels"] == labels
    service = _by(overlay, "Service", name)
    assert service["spec"]["selector"] == labels
    if component != "gateway":
        # Headless, for the gateway's dns:/// round-robin over every pod.
        assert service["spec"]["clusterIP"] == "None"
        gateway_env = _pod(_by(overlay, "Deployment", "vestry-gateway"))["containers"][0]["env"]
        address = next(
            e["value"] for e in gateway_env if e["name"] == f"VESTRY_{component.upper()}_ADDRESS"
        )
        assert address == f"dns:///{name}:{port}"


def test_migration_job_runs_migrate() -> None:
    (job,) = load_docs(K8S / "base" / "migrate-job.yaml")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["migrate"]
    assert job["spec"]["backoffLimit"] >= 1


def test_dockerfile_is_multi_stage_pinned_and_non_root() -> None:
    text = (REPO / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert base and re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base[1])
    assert len(re.findall(r"^FROM ", text, re.M)) == 2
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert 'ENTRYPOINT ["vestry"]' in text
    assert 'CMD ["serve", "gateway"]' in text
    copied = set(re.findall(r"^COPY (\S+) \./", text, re.M))
    allowed = {
        line[1:].rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert copied <= allowed | {"pyproject.toml"}, copied - allowed
