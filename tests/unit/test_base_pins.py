"""Users' builds and the compose stack pull base images by digest; only this project's air-gapped
stand-ins (label org.tasknote.airgap=true, built by ./inv images.airgap) switch a reference back
to its tag (issue 14, defect 9). The local image store is the boundary: recorded labels."""

from __future__ import annotations

from pathlib import Path

from gitops.images import app, base_pins
from gitops.manifests import pins
from gitops.stack import compose
from support.checkout import this_repo

REPO = this_repo()

STANDIN = {"org.tasknote.airgap": "true", "org.tasknote.airgap.inputs": "sha256:abc"}


def test_only_airgap_standins_switch_to_the_tag() -> None:
    local = {"python:3.13-slim-trixie": STANDIN,
             "gcr.io/distroless/python3-debian13:nonroot": {"maintainer": "someone"}}
    overrides = base_pins.standin_overrides(base_pins.BUILD_ARGS, local.get)
    assert overrides == {"BUILDER_IMAGE": "python:3.13-slim-trixie"}
    assert base_pins.standin_overrides(base_pins.BUILD_ARGS, lambda ref: None) == {}


def test_build_passes_the_overrides_as_build_args() -> None:
    spec = app.BuildSpec(refs=("tasknote:dev",), version="1.0.0", revision="abc", source="s",
                         context=REPO.app, ca_file=None,
                         base_images=(("BUILDER_IMAGE", "python:3.13-slim-trixie"),))
    argv = app.build_argv("docker", spec)
    assert argv[argv.index("BUILDER_IMAGE=python:3.13-slim-trixie") - 1] == "--build-arg"
    bare = app.BuildSpec(refs=("t:1",), version="1", revision="r", source="s", context=REPO.app, ca_file=None)
    plain = app.build_argv("docker", bare)
    assert not any(a.startswith(("BUILDER_IMAGE=", "RUNTIME_IMAGE=")) for a in plain)


def test_compose_env_carries_the_service_image_override() -> None:
    stack = compose.Stack(REPO, service_images={"POSTGRES_IMAGE": "postgres:17-trixie"})
    assert stack.env("pw")["POSTGRES_IMAGE"] == "postgres:17-trixie"
    assert "POSTGRES_IMAGE" not in compose.Stack(REPO).env("pw")


def test_dockerfile_and_compose_defaults_are_the_recorded_digests() -> None:
    digests = REPO.versions["base_images"]["digests"]
    text = (REPO.app / "compose.yaml").read_text()
    assert f"postgres:17-trixie@{digests['postgres:17-trixie']}" in pins.compose_images(text)
    assert list(pins.check_dockerfiles(REPO.root, REPO.versions)) == []
    assert list(pins.check_compose(REPO.root, REPO.versions)) == []


def test_a_dockerfile_back_on_a_bare_tag_is_a_mismatch(tmp_path: Path) -> None:
    (tmp_path / "apps" / "x").mkdir(parents=True)
    (tmp_path / "apps" / "x" / "Dockerfile").write_text("FROM python:3.13-slim-trixie\n")
    found = list(pins.check_dockerfiles(tmp_path, REPO.versions))
    assert [(m.file, m.found) for m in found] == [("apps/x/Dockerfile", "python:3.13-slim-trixie")]
    assert "@sha256:" in found[0].expected
