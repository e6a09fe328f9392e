"""secrets.seal end to end on a scratch repository: the overlay file and its kustomization are
written atomically, other objects are kept, every bad input leaves the tree byte-identical and no
plaintext reaches a file or another process's argv."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from gitops.core import files, run, tools
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.secrets import crypto, sealing
from support import sealing_testlib as lib
from support.checkout import ROOT, this_repo
from support.ports import free_port

PLAINTEXT = "correct-horse-battery-staple-42"


def checkout(root: Path) -> Repo:
    """The test's repository copy, with this checkout's versions.yaml (tool pins)."""
    return Repo(root, this_repo().versions)


@pytest.fixture(scope="module")
def pair():
    return crypto.generate_key_pair(key_size=2048)


@pytest.fixture
def repo(tmp_path, pair, monkeypatch):
    root = lib.make_repo(tmp_path / "repo", pair[1])
    # kubeseal is not installed here; pin the choice so a developer's kubeseal cannot change the test.
    monkeypatch.setattr(sealing, "find_kubeseal", lambda repo: None)
    return root


def test_seal_writes_overlay_and_kustomization(repo, pair) -> None:
    key, _ = pair
    result = sealing.seal("dev", "api-token", {"TOKEN": PLAINTEXT.encode()}, repo=checkout(repo))
    assert result.engine == "native" and not result.replaced and result.kustomization_updated
    target = repo / "overlays" / "dev" / "sealed-secrets.yaml"
    [doc] = lib.sealed_docs(target)
    assert lib.unseal(key, doc) == {"TOKEN": PLAINTEXT.encode()}
    assert doc["metadata"]["namespace"] == "tasknote-dev"
    kustomization = (repo / "overlays" / "dev" / "kustomization.yaml").read_text()
    assert "# dev overlay: kept comment" in kustomization and "# the app" in kustomization
    assert kustomization.rstrip().endswith("- sealed-secrets.yaml")
    assert oct(target.stat().st_mode & 0o777) == oct(0o644 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_same_name_is_replaced_others_are_kept(repo, pair) -> None:
    key, _ = pair
    sealing.seal("staging", "one", {"A": b"1"}, repo=checkout(repo))
    sealing.seal("staging", "two", {"B": b"2"}, repo=checkout(repo))
    again = sealing.seal("staging", "one", {"A": b"changed"}, repo=checkout(repo), scope="namespace-wide")
    assert again.replaced and not again.kustomization_updated  # staging has no kustomization here
    docs = lib.sealed_docs(repo / "overlays" / "staging" / "sealed-secrets.yaml")
    assert [d["metadata"]["name"] for d in docs] == ["one", "two"]
    assert lib.unseal(key, docs[0]) == {"A": b"changed"}
    assert lib.unseal(key, docs[1]) == {"B": b"2"}


def test_no_plaintext_in_any_written_file(repo) -> None:
    sealing.seal("prod", "db", {"POSTGRES_PASSWORD": PLAINTEXT.encode()}, repo=checkout(repo))
    sealing.seal_database_secrets("kind", repo=checkout(repo))
    for path in repo.rglob("*"):
        if path.is_file():
            assert PLAINTEXT.encode() not in path.read_bytes()
            assert b"postgresql://" not in path.read_bytes()


def test_database_secrets_are_fresh_and_consistent(repo, pair) -> None:
    key, _ = pair
    sealing.seal_database_secrets("k3s", repo=checkout(repo))
    values = {}
    for env in ("staging", "prod"):
        [doc, app_doc] = lib.sealed_docs(repo / "overlays" / env / "sealed-secrets.yaml")
        values[env] = lib.unseal(key, doc)
        v = values[env]
        url = f"postgresql://{v['POSTGRES_USER'].decode()}:{v['POSTGRES_PASSWORD'].decode()}@tasknote-db:5432/"
        assert v["DATABASE_URL"].decode() == url + v["POSTGRES_DB"].decode()
        assert len(v["POSTGRES_PASSWORD"]) >= 32
        # The app's login: another role, another password, the same database.
        assert app_doc["metadata"]["name"] == sealing.APP_DB_SECRET
        app_url = lib.unseal(key, app_doc)["DATABASE_URL"].decode()
        assert app_url.startswith("postgresql://tasknote_app:")
        assert app_url.endswith("@tasknote-db:5432/" + v["POSTGRES_DB"].decode())
        assert v["POSTGRES_PASSWORD"].decode() not in app_url
    assert values["staging"]["POSTGRES_PASSWORD"] != values["prod"]["POSTGRES_PASSWORD"]


BAD = {
    "unknown environment": (dict(env="qa"), "unknown environment 'qa'"),
    "unknown cluster": (dict(cluster="eks"), "unknown cluster 'eks'"),
    "wrong cluster for env": (dict(cluster="k3s"), "deployed to the kind cluster"),
    "invalid name": (dict(name="Bad_Name"), "not a valid Kubernetes name"),
    "invalid key": (dict(values={"no spaces": b"x"}), "not a valid Secret key"),
    "no values": (dict(values={}), "no values to seal"),
    "unknown scope": (dict(scope="global"), "unknown scope"),
    "unknown engine": (dict(engine="vault"), "unknown engine"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_sentence_and_leaves_the_tree_identical(repo, case) -> None:
    sealing.seal("dev", "existing", {"A": b"1"}, repo=checkout(repo))
    before = lib.checksums(repo)
    args = {"env": "dev", "name": "new", "values": {"K": PLAINTEXT.encode()}}
    override, expected = BAD[case]
    args.update(override)
    with pytest.raises(GitOpsError) as err:
        sealing.seal(args.pop("env"), args.pop("name"), args.pop("values"), repo=checkout(repo), **args)
    assert expected in str(err.value) and "\n" not in str(err.value)
    assert PLAINTEXT not in str(err.value)
    assert lib.checksums(repo) == before
    assert not [p for p in repo.rglob(".*.tmp")]


@pytest.mark.parametrize(
    ("cert_bytes", "expected"),
    [
        (None, "is missing"),
        (b"-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n", "not a PEM certificate"),
        ("expired", "expired on"),
    ],
)
def test_missing_or_bad_certificate_changes_nothing(repo, cert_bytes, expected) -> None:
    cert_file = repo / "clusters" / "kind" / "sealed-secrets-cert.pem"
    if cert_bytes is None:
        cert_file.unlink()
    elif cert_bytes == "expired":
        cert_file.write_bytes(crypto.cert_pem(lib.short_lived_pair(days=-1)[1]))
    else:
        cert_file.write_bytes(cert_bytes)
    before = lib.checksums(repo)
    with pytest.raises(GitOpsError, match=expected):
        sealing.seal("dev", "x", {"A": b"1"}, repo=checkout(repo))
    assert lib.checksums(repo) == before


def test_a_failing_write_leaves_the_old_file(repo, monkeypatch) -> None:
    sealing.seal("dev", "existing", {"A": b"1"}, repo=checkout(repo))
    before = lib.checksums(repo)

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(OSError):
        sealing.seal("dev", "new", {"A": b"2"}, repo=checkout(repo))
    assert lib.checksums(repo) == before
    assert not list((repo / "overlays" / "dev").glob(".*.tmp"))


# --- kubeseal, when installed ---------------------------------------------------------------


def test_kubeseal_gets_plaintext_on_stdin_never_in_argv(repo, pair, monkeypatch) -> None:
    """kubeseal is absent here: this asserts on the argv and stdin our code builds for it, and
    plays back output shaped like `kubeseal --format json` (computed natively)."""
    key, cert = pair
    seen = {}

    def fake_run(argv, *, input_bytes=None, **kw):
        seen["argv"], seen["stdin"] = list(argv), input_bytes
        secret = json.loads(input_bytes)
        values = {k: base64.b64decode(v) for k, v in secret["data"].items()}
        out = sealing.sealed_secret(secret["metadata"]["name"], secret["metadata"]["namespace"], values, cert)
        out["metadata"]["creationTimestamp"] = None
        return run.Result(tuple(argv), 0, json.dumps(out), "")

    monkeypatch.setattr(sealing, "find_kubeseal", lambda repo: Path("/opt/bin/kubeseal"))
    monkeypatch.setattr(sealing.run, "run", fake_run)
    result = sealing.seal("dev", "api", {"TOKEN": PLAINTEXT.encode()}, repo=checkout(repo))
    assert result.engine == "kubeseal"
    assert seen["argv"][:1] == ["/opt/bin/kubeseal"] and "--cert" in seen["argv"]
    assert not any(PLAINTEXT in a for a in seen["argv"])
    assert PLAINTEXT not in json.dumps(seen["argv"])
    assert json.loads(seen["stdin"])["kind"] == "Secret"  # plaintext travels only on stdin
    [doc] = lib.sealed_docs(repo / "overlays" / "dev" / "sealed-secrets.yaml")
    assert "creationTimestamp" not in doc["metadata"]
    assert lib.unseal(key, doc) == {"TOKEN": PLAINTEXT.encode()}


def test_engine_kubeseal_without_kubeseal_is_one_sentence(repo, monkeypatch) -> None:
    monkeypatch.setattr(tools, "locate", lambda name: None)
    # The pinned kubeseal is downloaded when asked for; here the download meets a loopback port
    # with no listener (a test never reaches GitHub), as an unreachable URL would.
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{free_port()}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "")
    before = lib.checksums(repo)
    with pytest.raises(GitOpsError, match=re.escape("could not download https://github.com/bitnami-labs/")):
        sealing.seal("dev", "x", {"A": b"1"}, repo=checkout(repo), engine="kubeseal")
    assert lib.checksums(repo) == before and not (repo / ".tools").exists()


# --- the real command line ------------------------------------------------------------------


def test_cli_bad_input_exits_non_zero_with_one_line_and_touches_nothing() -> None:
    before = lib.checksums(ROOT)
    invoke = Path(sys.executable).parent / "invoke"
    proc = subprocess.run(
        [str(invoke), "secrets.seal", "--env", "dev", "--name", "Not_Valid", "--from-literal", "K=v"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: 'Not_Valid' is not a valid Kubernetes name; use lower-case letters, digits, '-' and '.', "
        "starting and ending with a letter or digit."
    ]
    assert lib.checksums(ROOT) == before


def test_a_failing_kustomization_write_restores_the_sealed_file(repo, monkeypatch) -> None:
    before = lib.checksums(repo)
    real_write = sealing.atomic_write

    def failing_for_kustomization(path, data, mode=None):
        if path.name == "kustomization.yaml":
            raise OSError("read-only file system")
        real_write(path, data, mode)

    monkeypatch.setattr(sealing, "atomic_write", failing_for_kustomization)
    with pytest.raises(OSError):
        sealing.seal("dev", "new", {"A": b"2"}, repo=checkout(repo))
    assert lib.checksums(repo) == before
