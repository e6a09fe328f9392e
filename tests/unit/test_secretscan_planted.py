"""The scanner's former blind spots, planted in a throw-away clone of this repository and caught
in the working tree, in the staged files and in history after deletion:

- a plain Secret in a file over 1,000,000 bytes (the old scanner skipped big files);
- a plain Secret as JSON (only .yaml/.yml were parsed);
- a plain Secret in a multi-document file where another document does not parse (the whole
  file was dropped);
- a `.env` file with DB_PASSWORD=... (detect-secrets reads only quoted values there);
- a kustomize secretGenerator reading a plaintext env file and a file in Git, and a literal.

The planted Secret documents are built here at run time with dummy values.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitops.secrets import scan
from gitops.secrets import scan_documents as documents
from support.checkout import ROOT
from support.gitrepo import git
from support.repocopy import clone_repo

DUMMY = "ZHVtbXktdmFsdWUtZm9yLXRlc3Rz"  # base64 of "dummy-value-for-tests"  # pragma: allowlist secret


def secret_yaml(name: str) -> str:
    return (f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: tasknote-dev\n"
            f"type: Opaque\ndata:\n  CONNECTION: {DUMMY}\n")


PLANTED: dict[str, str] = {
    # >1,000,000 bytes: a long comment block first, the Secret at the end.
    "overlays/dev/big-bundle.yaml": "".join(f"# padding line {i:07d} {'x' * 60}\n" for i in range(16000))
    + "---\n" + secret_yaml("big-one"),
    "overlays/dev/secret.json": json.dumps({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "as-json", "namespace": "tasknote-dev"}, "data": {"CONNECTION": DUMMY},
    }, indent=2) + "\n",
    "overlays/dev/mixed.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: broken\n"
    "data: {{ templated }}\n---\n" + secret_yaml("after-a-broken-doc"),
    "apps/tasknote/.env":
        "LOG_LEVEL=debug\nDB_PASSWORD=s3cr3t-in-an-env\nEMPTY_TOKEN=\n",  # pragma: allowlist secret
    "overlays/staging/generated/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nsecretGenerator:\n"
        "  - name: from-files\n    envs:\n      - db.properties\n"
        "    files:\n      - tls.key=certs/server.key\n"
        "  - name: from-literals\n    literals:\n      - API_TOKEN=literal-value-42\n      - HOST=${HOST}\n"),
    "overlays/staging/generated/db.properties": "user=app\n",
    "overlays/staging/generated/certs/server.key": "not a real key\n",
}

EXPECTED = {
    ("overlays/dev/big-bundle.yaml", documents.PLAIN_SECRET),
    ("overlays/dev/secret.json", documents.PLAIN_SECRET),
    ("overlays/dev/mixed.yaml", documents.PLAIN_SECRET),
    ("apps/tasknote/.env", documents.ENV_SECRET),
    ("overlays/staging/generated/kustomization.yaml", documents.GENERATOR_FILE),
    ("overlays/staging/generated/kustomization.yaml", documents.GENERATOR_LITERAL),
}


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    root = clone_repo(tmp_path_factory.mktemp("scan") / "repo")
    # The checkout's allowlist, committed or not, is the one under test.
    (root / scan.ALLOWLIST).write_bytes((ROOT / scan.ALLOWLIST).read_bytes())
    git(root, "commit", "-qam", "the allowlist under test", "--allow-empty")
    for rel, text in PLANTED.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    assert (root / "overlays/dev/big-bundle.yaml").stat().st_size > 1_000_000
    return root


def found(report: scan.ScanReport, origin_prefix: str | None) -> set[tuple[str, str]]:
    return {(f.path, f.kind) for f in report.findings
            if (f.origin or "").startswith(origin_prefix or "") and (origin_prefix or f.origin is None)}


def test_planted_cases_are_caught_in_the_tree_staged_and_history(clone) -> None:
    tree = scan.scan(clone, history=False)
    assert {(f.path, f.kind) for f in tree.findings} == EXPECTED
    lines = {(f.path, f.kind): f.line for f in tree.findings}
    assert lines[("overlays/dev/mixed.yaml", documents.PLAIN_SECRET)] == 9  # `name: after-a-broken-doc`
    assert lines[("apps/tasknote/.env", documents.ENV_SECRET)] == 2
    assert lines[("overlays/staging/generated/kustomization.yaml", documents.GENERATOR_LITERAL)] == 11

    git(clone, "add", "-A")
    staged = scan.scan(clone, staged=True)
    assert staged.scanned == "staged files"
    assert {(f.path, f.kind) for f in staged.findings} == EXPECTED

    git(clone, "commit", "-qm", "plant")
    git(clone, "rm", "-rq", *PLANTED)
    git(clone, "commit", "-qm", "remove them again")
    assert scan.scan(clone, history=False).ok  # the tree is clean again...
    history = scan.scan(clone, refs=("HEAD",))  # ...but history keeps every one
    assert found(history, "in history, blob") | found(history, "added in commit") == EXPECTED
    assert found(history, "added in commit") == {("apps/tasknote/.env", documents.ENV_SECRET)}


def test_a_secret_named_in_a_file_of_any_suffix_is_parsed(tmp_path) -> None:
    """Files that are not .yaml/.json are parsed where a document names a Secret kind."""
    out = documents.scan_documents("notes/deploy.txt", enumerate(secret_yaml("in-a-txt").split("\n"), 1))
    assert out.findings == [(4, documents.PLAIN_SECRET)]
    prose = enumerate(["kind: Secret is a word here"], 1)
    assert documents.scan_documents("notes/readme.md", prose).findings == []


@pytest.mark.parametrize(
    ("line", "caught"),
    [
        ("DB_PASSWORD=hunter2-but-longer", True),
        ("export API_TOKEN='abc123'", True),
        ("DB_PASSWORD=", False),
        ("DB_PASSWORD=${DB_PASSWORD}", False),
        ("DB_PASSWORD=<fill me in>", False),
        ("DB_PASSWORD=changeme", False),
        ("LOG_LEVEL=debug", False),
        ("# DB_PASSWORD=commented-out", False),
    ],
)
def test_env_file_rule(line, caught) -> None:
    assert bool(list(documents.env_findings([(1, line)]))) is caught
