"""Round-trip edits of an overlay's images pin: only the pinned line changes, comments and order stay."""

from __future__ import annotations

import difflib

import pytest
from gitops.core.errors import GitOpsError
from gitops.manifests import overlays
from gitops.manifests.overlays import Pin

OLD = "sha256:" + "1" * 64
NEW = "sha256:" + "2" * 64

# The shape the overlays use (helper "state" writes them): comments, indented sequences, quotes.
KUSTOMIZATION = f"""\
# dev overlay: what runs in tasknote-dev
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: tasknote-dev  # one namespace per environment
resources:
  - ../../base/tasknote
  - sealed-secrets.yaml
images:
  # the app image, pinned by digest (./inv release.bump writes this)
  - name: tasknote
    newName: localhost:5001/tasknote  # kind's local registry
    newTag: "1.4.1@{OLD}"
replicas:
  - name: tasknote-api
    count: 1
"""


def changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:1] in "+-"]


def test_read_pin_splits_version_and_digest() -> None:
    pin = overlays.read_pin(KUSTOMIZATION, "tasknote")
    assert pin == Pin("tasknote", "localhost:5001/tasknote", "1.4.1", OLD)
    assert pin.reference == f"localhost:5001/tasknote:1.4.1@{OLD}"
    assert overlays.read_pin(KUSTOMIZATION, "other") is None


def test_set_pin_changes_only_the_tag_line() -> None:
    after = overlays.set_pin(KUSTOMIZATION, Pin("tasknote", "localhost:5001/tasknote", "1.4.2", NEW))
    assert changed_lines(KUSTOMIZATION, after) == [
        f'-     newTag: "1.4.1@{OLD}"',
        f'+     newTag: "1.4.2@{NEW}"',
    ]


def test_set_pin_to_the_same_pin_is_byte_identical() -> None:
    pin = overlays.read_pin(KUSTOMIZATION, "tasknote")
    assert pin is not None
    assert overlays.set_pin(KUSTOMIZATION, pin) == KUSTOMIZATION


def test_set_pin_with_a_new_registry_keeps_the_comment() -> None:
    after = overlays.set_pin(KUSTOMIZATION, Pin("tasknote", "ghcr.io/acme/tasknote", "1.4.1", OLD))
    assert changed_lines(KUSTOMIZATION, after)[1].startswith("+     newName: ghcr.io/acme/tasknote")
    assert "# kind's local registry" in after and "# the app image" in after


def test_set_pin_adds_an_images_block_in_the_files_own_style() -> None:
    text = "resources:\n- deployment.yaml\ncommonLabels:\n  app: x\n"
    after = overlays.set_pin(text, Pin("tasknote", "r.example/tasknote", "1.0.0", NEW))
    added = f'images:\n- name: tasknote\n  newName: r.example/tasknote\n  newTag: "1.0.0@{NEW}"\n'
    assert after == text + added


def test_a_separate_digest_field_is_dropped_because_newtag_carries_it() -> None:
    text = KUSTOMIZATION.replace(f'    newTag: "1.4.1@{OLD}"\n', f"    newTag: 1.4.1\n    digest: {OLD}\n")
    after = overlays.set_pin(text, Pin("tasknote", "localhost:5001/tasknote", "1.4.2", NEW))
    assert "digest:" not in after and f'newTag: "1.4.2@{NEW}"' in after


@pytest.mark.parametrize("tag", [
    "1.4.1", "1.4.1@sha256:abc", f"1.4.1@{OLD.upper()}x", "@" + OLD, f"1.4.1@md5:{'1' * 64}",
])
def test_malformed_new_tag_is_one_sentence(tag: str) -> None:
    text = KUSTOMIZATION.replace(f"1.4.1@{OLD}", tag)
    with pytest.raises(GitOpsError, match=r"is not|pin the image"):
        overlays.read_pin(text, "tasknote")


def test_set_pin_refuses_a_malformed_digest() -> None:
    with pytest.raises(GitOpsError, match="not a sha256 digest"):
        overlays.set_pin(KUSTOMIZATION, Pin("tasknote", "r/tasknote", "1.0", "sha256:1234"))


def test_not_yaml_or_not_a_mapping_is_one_sentence() -> None:
    with pytest.raises(GitOpsError, match="not valid YAML"):
        overlays.read_pin("images: [\n", "tasknote")
    with pytest.raises(GitOpsError, match="not a kustomization mapping"):
        overlays.read_pin("- a\n- b\n", "tasknote")


@pytest.mark.parametrize(("source", "target"), [("dev", "staging"), ("staging", "prod")])
def test_promotion_one_step_up_is_allowed(source: str, target: str) -> None:
    overlays.check_promotion(source, target)


@pytest.mark.parametrize(("source", "target"), [
    ("dev", "prod"), ("staging", "dev"), ("prod", "staging"), ("dev", "dev"), ("prod", "prod"),
])
def test_promotion_skipping_or_going_down_is_refused(source: str, target: str) -> None:
    with pytest.raises(GitOpsError, match="one step at a time"):
        overlays.check_promotion(source, target)


def test_promotion_to_an_unknown_environment_is_refused() -> None:
    with pytest.raises(GitOpsError, match="unknown environment 'qa'"):
        overlays.check_promotion("dev", "qa")


def test_write_file_is_atomic_and_keeps_the_mode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "kustomization.yaml"
    target.write_text(KUSTOMIZATION)
    target.chmod(0o640)
    overlays.write_file(target, "x: 1\n")
    assert target.read_text() == "x: 1\n" and (target.stat().st_mode & 0o777) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["kustomization.yaml"]
