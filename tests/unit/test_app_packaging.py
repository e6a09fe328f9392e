"""Static rules of the app's Dockerfile and compose file that a refactor must not lose."""

from __future__ import annotations

import re

import yaml
from gitops.manifests import pins
from support.checkout import this_repo

DOCKERFILE = (this_repo().app / "Dockerfile").read_text()
COMPOSE = yaml.safe_load((this_repo().app / "compose.yaml").read_text())
APP_SERVICES = ("api", "worker", "migrate")


def final_stage(text: str) -> str:
    return re.split(r"^FROM ", text, flags=re.M)[-1]


def test_dockerfile_has_no_syntax_line_and_ends_on_the_distroless_nonroot_base() -> None:
    assert not re.search(r"^#\s*syntax=", DOCKERFILE, re.M | re.I)
    final = final_stage(DOCKERFILE)
    assert final.startswith("${RUNTIME_IMAGE}")
    assert re.search(r"^USER 65532:65532$", final, re.M)
    assert '["/usr/local/bin/tini", "--", "tasknote"]' in final
    # Both bases by digest for users' builds (the ARG defaults; versions.yaml base_images.digests).
    digests = this_repo().versions["base_images"]["digests"]
    assert pins.dockerfile_images(DOCKERFILE) == [
        f"python:3.13-slim-trixie@{digests['python:3.13-slim-trixie']}",
        f"gcr.io/distroless/python3-debian13:nonroot@{digests['gcr.io/distroless/python3-debian13:nonroot']}"]


def test_the_ca_is_only_ever_a_secret_mount_and_the_final_stage_sets_no_secret() -> None:
    assert "ca-certificates.crt /" not in DOCKERFILE.replace("\\\n", " ")
    assert all("--mount=type=secret,id=ca" in line for line in DOCKERFILE.splitlines()
               if "/run/secrets/ca" in line and line.lstrip().startswith("RUN"))
    env_lines = re.findall(r"^(?:ENV|ARG)\s+(.*)$", final_stage(DOCKERFILE), re.M)
    assert not [line for line in env_lines if re.search(r"PASSWORD|SECRET|TOKEN|PIP_CERT", line)]


def test_dependency_layers_come_before_the_source() -> None:
    lock_copy = DOCKERFILE.index("COPY requirements.lock")
    source_copy = DOCKERFILE.index("COPY src ")
    assert lock_copy < source_copy


def test_compose_healthchecks_are_exec_form_and_every_long_running_service_has_one() -> None:
    for name in ("db", "cache", "api", "worker"):
        test = COMPOSE["services"][name]["healthcheck"]["test"]
        assert test[0] == "CMD", f"{name}: the app image has no shell, so no CMD-SHELL"


def test_compose_orders_by_health_and_completion_not_by_start() -> None:
    for name in ("api", "worker", "migrate"):
        for dep, how in COMPOSE["services"][name]["depends_on"].items():
            assert how["condition"] in ("service_healthy", "service_completed_successfully"), (name, dep)
    api_needs = COMPOSE["services"]["api"]["depends_on"]
    assert api_needs["migrate"]["condition"] == "service_completed_successfully"
    assert COMPOSE["services"]["migrate"]["restart"] == "no"


def test_every_service_is_hardened_like_the_manifests() -> None:
    """cap_drop ALL, no-new-privileges and a read-only root for all six services (the dev
    profile's too); the app's writable /tmp is a small tmpfs, the database keeps its volume."""
    for name, service in COMPOSE["services"].items():
        assert service["cap_drop"] == ["ALL"], name
        assert service["security_opt"] == ["no-new-privileges:true"], name
        assert service["read_only"] is True, name
    for name in APP_SERVICES:
        assert COMPOSE["services"][name]["tmpfs"] == ["/tmp:size=16m,uid=65532,gid=65532"]
    assert COMPOSE["services"]["db"]["volumes"] == ["pgdata:/var/lib/postgresql/data"]
    assert {"pgdata", "api-scratch"} <= set(COMPOSE["volumes"])


# compose service -> (kind, name, container) of the base manifest it mirrors
MIRRORS = {
    "api": ("Deployment", "tasknote-api", "api"),
    "worker": ("Deployment", "tasknote-worker", "worker"),
    "migrate": ("Job", "tasknote-migrate", "migrate"),
    "db": ("StatefulSet", "tasknote-postgres", "postgres"),
    "cache": ("Deployment", "tasknote-redis", "redis"),
}
QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|k|M|G)?$")
BINARY = {None: 1, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "k": 1000, "M": 1000**2, "G": 1000**3}


def k8s_bytes(quantity: str) -> int:
    number, unit = QUANTITY.match(quantity).groups()  # type: ignore[union-attr]
    return int(float(number) * BINARY[unit])


def k8s_cpus(quantity: str) -> float:
    number, unit = QUANTITY.match(str(quantity)).groups()  # type: ignore[union-attr]
    return float(number) / 1000 if unit == "m" else float(number)


def docker_bytes(value: str) -> int:
    """docker's mem_limit units: b, k, m, g are powers of 1024 (docker run --memory)."""
    number, unit = re.fullmatch(r"(\d+)([bkmg]?)", str(value).lower()).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]


def base_limits() -> dict[str, dict[str, str]]:
    """The containers' resources.limits as written in base/tasknote, read from the files."""
    found = {}
    for path in sorted((this_repo().root / "base" / "tasknote").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict) or "spec" not in doc:
                continue
            spec = doc["spec"]
            pod = (spec.get("jobTemplate", {}).get("spec", spec)).get("template", {}).get("spec", {})
            for container in pod.get("containers", []):
                key = (doc["kind"], doc["metadata"]["name"], container["name"])
                found[key] = container["resources"]["limits"]
    return found


def test_compose_memory_and_cpu_limits_equal_the_base_manifests() -> None:
    limits = base_limits()
    for service, key in MIRRORS.items():
        want = limits[key]
        got = COMPOSE["services"][service]
        assert docker_bytes(got["mem_limit"]) == k8s_bytes(want["memory"]), service
        assert float(got["cpus"]) == k8s_cpus(want["cpu"]), service
    # The dev profile runs the API: the API's limits.
    dev = COMPOSE["services"]["api-dev"]
    assert docker_bytes(dev["mem_limit"]) == k8s_bytes(limits[MIRRORS["api"]]["memory"])


def test_no_credential_is_an_environment_value_in_compose() -> None:
    """Credentials are files (*_FILE) from compose secrets, and every secret but the build CA is
    one of the files the stack writes."""
    from gitops.stack import compose as stack

    for name, service in COMPOSE["services"].items():
        for key, value in (service.get("environment") or {}).items():
            assert "PASSWORD" not in key or key.endswith("_FILE"), (name, key)
            assert "://" not in str(value) or "@" not in str(value), (name, key)
    assert set(COMPOSE["secrets"]) - {"ca"} == set(stack.SECRET_FILES)


def test_the_worker_limit_in_base_decodes_the_worst_image_the_api_accepts() -> None:
    """Each format at its pixel cap in its most expensive mode fits the decode budget the
    worker derives from base/'s memory limit (tasknote.limits.decode_budget)."""
    from tasknote import images, limits

    memory = k8s_bytes(base_limits()[MIRRORS["worker"]]["memory"])
    budget = limits.decode_budget(memory, 10 * 1024 * 1024)
    worst_modes = {"PNG": ("RGBA", "P", "I;16", "I", "LA"), "WEBP": ("RGBA",), "JPEG": ("RGB", "CMYK")}
    for fmt, modes in worst_modes.items():
        side = int(images.FORMAT_MAX_PIXELS[fmt] ** 0.5)
        # JPEG is decoded at draft() scale; counting it at full size is the safe side.
        worst = max(images.decode_peak_bytes(side, side, mode, fmt) for mode in modes)
        assert worst <= budget, (fmt, worst >> 20, budget >> 20)


def test_the_api_scratch_holds_a_maximum_size_upload_per_admission_slot() -> None:
    """The API's on-disk scratch emptyDir (not medium: Memory) holds a maximum-size upload with
    its framing for every admission slot: at base/'s memory limit, and at any overlay's, since no
    limit gives more than MAX_UPLOAD_SLOTS."""
    from tasknote import limits, uploads

    deployment = this_repo().root / "base" / "tasknote" / "api-deployment.yaml"
    docs = list(yaml.safe_load_all(deployment.read_text()))
    volumes = {v["name"]: v for v in docs[0]["spec"]["template"]["spec"]["volumes"]}
    scratch = volumes["scratch"]["emptyDir"]
    assert "medium" not in scratch
    slots = limits.upload_slots(k8s_bytes(base_limits()[MIRRORS["api"]]["memory"]))
    assert slots == limits.upload_slots(64 * 1024**3) == limits.MAX_UPLOAD_SLOTS
    need = limits.scratch_bytes_needed(slots, 10 * 1024 * 1024, uploads.FRAMING)
    assert need <= k8s_bytes(scratch["sizeLimit"]) < need + 16 * 1024 * 1024, (slots, need)
