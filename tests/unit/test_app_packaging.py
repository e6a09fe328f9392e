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


def test_app_services_run_read_only_with_tmp_and_db_keeps_a_named_volume() -> None:
    for name in APP_SERVICES:
        service = COMPOSE["services"][name]
        assert service["read_only"] is True and service["tmpfs"] == ["/tmp"]
    assert COMPOSE["services"]["db"]["volumes"] == ["pgdata:/var/lib/postgresql/data"]
    assert "pgdata" in COMPOSE["volumes"]


def test_the_database_password_is_only_ever_interpolated() -> None:
    text = (this_repo().app / "compose.yaml").read_text()
    for match in re.finditer(r"^\s*POSTGRES_PASSWORD:\s*(\S+)", text, re.M):
        assert match.group(1).startswith("${POSTGRES_PASSWORD:?"), match.group(0)
    url = COMPOSE["x-app"]["environment"]["DATABASE_URL"]
    assert re.fullmatch(r"postgresql://tasknote:\$\{POSTGRES_PASSWORD:\?[^}]+\}@db:5432/tasknote", url)
