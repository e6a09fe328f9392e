"""The secret scanner: the repository (tree and all history) passes; planted secrets fail,
in the working tree, in the staged files and in history after they were deleted."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from gitops.core.errors import GitOpsError
from gitops.secrets import crypto, scan, sealing
from support.checkout import ROOT
from support.gitrepo import git

FIXTURES = Path(__file__).parents[1] / "fixtures" / "secrets"


@pytest.fixture
def scratch(tmp_path) -> Path:
    root = tmp_path / "scratch"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("scratch repository\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "start")
    return root


def kinds(report: scan.ScanReport) -> set[tuple[str, str]]:
    return {(f.path, f.kind) for f in report.findings}


def test_the_repository_passes_the_scan() -> None:
    """The working tree and every commit of the checked-out history (what a merge would land);
    `./inv secrets.scan` itself also covers other local branches."""
    report = scan.scan(ROOT, refs=("HEAD",))
    assert report.ok, "\n".join(f.describe() for f in report.findings)
    assert report.scanned == "working tree and Git history"


def test_a_planted_plaintext_secret_fails(scratch) -> None:
    (scratch / "overlays").mkdir()
    (scratch / "overlays" / "secret.yaml").write_text((FIXTURES / "plain-secret.yaml.txt").read_text())
    report = scan.scan(scratch)
    assert not report.ok
    [finding] = [f for f in report.findings if f.kind == scan.PLAIN_SECRET]
    assert (finding.path, finding.line) == ("overlays/secret.yaml", 6)
    assert finding.describe() == "overlays/secret.yaml:6: Plaintext Kubernetes Secret"


def test_secrets_in_lists_and_string_data_fail(scratch) -> None:
    (scratch / "list.yml").write_text(
        "apiVersion: v1\nkind: List\nitems:\n- kind: Secret\n  metadata: {name: x}\n  stringData: {a: b}\n"
    )
    (scratch / "empty.yaml").write_text("kind: Secret\nmetadata: {name: placeholder}\ntype: Opaque\n")
    report = scan.scan(scratch)
    assert kinds(report) == {("list.yml", scan.PLAIN_SECRET)}


def test_a_private_key_fails_and_is_found_in_history_after_deletion(scratch) -> None:
    key, _ = crypto.generate_key_pair(key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    (scratch / "deploy.key").write_bytes(pem)
    assert ("deploy.key", "Private Key") in kinds(scan.scan(scratch, history=False))
    git(scratch, "add", "-A")
    git(scratch, "commit", "-qm", "oops")
    git(scratch, "rm", "-q", "deploy.key")
    git(scratch, "commit", "-qm", "remove the key")
    assert scan.scan(scratch, history=False).ok  # the tree is clean now...
    report = scan.scan(scratch)  # ...but the key is still in history
    [finding] = report.findings
    assert (finding.path, finding.kind) == ("deploy.key", "Private Key")
    assert finding.origin and finding.origin.startswith("added in commit ")


def test_a_plaintext_secret_in_history_fails(scratch) -> None:
    (scratch / "s.yaml").write_text((FIXTURES / "plain-secret.yaml.txt").read_text())
    git(scratch, "add", "-A")
    git(scratch, "commit", "-qm", "plaintext")
    git(scratch, "rm", "-q", "s.yaml")
    git(scratch, "commit", "-qm", "gone")
    [finding] = [f for f in scan.scan(scratch).findings if f.kind == scan.PLAIN_SECRET]
    assert "in history, blob" in (finding.origin or "")


def test_ciphertext_digests_and_kubernetes_names_are_safe_by_construction(scratch) -> None:
    _, cert = crypto.generate_key_pair(key_size=2048)
    sealed = sealing.sealed_secret("db", "ns", {"POSTGRES_PASSWORD": b"x" * 40}, cert)
    (scratch / "sealed.yaml").write_bytes(sealing.dump_sealed_file([sealed]))
    (scratch / "versions.yaml").write_text(
        "kind:\n  sha256: 7ef15274394de7913dfcabdb232fc5b7adacce39a388f8d6f0b78b1892cc715b\n"
        "image: registry:2@sha256:3908dc555919f6eac84ffc62184dac01a9c4ffc0cbdce6627839cb1f77acc676\n"
    )
    (scratch / "names.py").write_text('SEALED_SECRETS_NAMESPACE = "kube-system"\n')
    (scratch / "app.json").write_text('{"sync": {"revision": "5f1c2a9d4e7b8c0a1f2e3d4c5b6a79881726354a"}}\n')
    git(scratch, "add", "-A")
    git(scratch, "commit", "-qm", "sealed")
    assert scan.scan(scratch).ok
    # The same hex string without a sha256 context is a finding.
    token_line = 'api_token = "7ef15274394de7913dfcabdb232fc5b7adacce39"\n'  # pragma: allowlist secret
    (scratch / "config.py").write_text(token_line)
    assert not scan.scan(scratch, history=False).ok


def test_allow_list_needs_reasons_and_never_allows_plain_secrets(scratch) -> None:
    (scratch / "app.py").write_text('password = "Sup3r-S3cret-Passw0rd!"\n')  # pragma: allowlist secret
    assert not scan.scan(scratch, history=False).ok
    allow = scratch / scan.ALLOWLIST
    allow.write_text("allow:\n  - path: app.py\n    types: [Secret Keyword]\n")
    with pytest.raises(GitOpsError, match="needs path, types and a reason"):
        scan.scan(scratch, history=False)
    allow.write_text("allow:\n  - path: app.py\n    types: [Secret Keyword]\n    reason: test fixture\n")
    assert scan.scan(scratch, history=False).ok
    allow.write_text("allow:\n  - path: '*'\n    types: [Plaintext Kubernetes Secret]\n    reason: no\n")
    with pytest.raises(GitOpsError, match="seal it instead"):
        scan.scan(scratch, history=False)
    allow.write_text(
        "allow:\n  - path: '*.yaml'\n    types: ['*']\n    reason: even a wildcard...\n"
        "  - path: app.py\n    types: ['*']\n    reason: x\n"
    )
    (scratch / "s.yaml").write_text((FIXTURES / "plain-secret.yaml.txt").read_text())
    assert kinds(scan.scan(scratch, history=False)) == {("s.yaml", scan.PLAIN_SECRET)}


def test_staged_mode_scans_what_is_about_to_be_committed(scratch) -> None:
    (scratch / "notes.txt").write_text("aws_secret = AKIAIOSFODNN7EXAMPLZ\n")  # pragma: allowlist secret
    assert scan.scan(scratch, staged=True).ok  # not staged yet
    git(scratch, "add", "notes.txt")
    (scratch / "notes.txt").write_text("clean now, but the index still has it\n")
    report = scan.scan(scratch, staged=True)
    assert report.scanned == "staged files"
    assert ("notes.txt", "AWS Access Key") in kinds(report)


def test_install_hook_links_the_tracked_hook_and_never_clobbers(scratch) -> None:
    (scratch / "scripts" / "hooks").mkdir(parents=True)
    (scratch / "scripts" / "hooks" / "pre-commit").write_text("#!/bin/sh\n")
    hook = scan.install_hook(scratch)
    assert hook.is_symlink() and hook.resolve() == (scratch / "scripts/hooks/pre-commit").resolve()
    assert scan.install_hook(scratch) == hook  # idempotent
    hook.unlink()
    hook.write_text("#!/bin/sh\necho mine\n")
    with pytest.raises(GitOpsError, match="already exists"):
        scan.install_hook(scratch)
    assert hook.read_text() == "#!/bin/sh\necho mine\n"


def test_the_tracked_hook_runs_the_staged_scan() -> None:
    text = (ROOT / "scripts" / "hooks" / "pre-commit").read_text()
    assert 'exec "$root/inv" secrets.scan --staged' in text
    assert (ROOT / "scripts" / "hooks" / "pre-commit").stat().st_mode & 0o111
