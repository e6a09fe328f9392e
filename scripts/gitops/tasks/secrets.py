"""invoke tasks of the `secrets` namespace: thin wrappers that parse arguments and call one function."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from invoke.collection import Collection

from gitops import config, sealing
from gitops.errors import GitOpsError
from gitops.tasks._task import task


def read_values(from_literal: list[str], from_env_file: str, stdin: bool) -> dict[str, bytes]:
    values: dict[str, bytes] = {}
    sealing.parse_literals(from_literal, values)
    if from_env_file:
        path = Path(from_env_file).expanduser()
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise GitOpsError(f"cannot read {path} ({exc.strerror}); give a readable KEY=VALUE file.") from None
        sealing.parse_env_file(content, str(path), values)
    if stdin:
        if sys.stdin.isatty():
            print("reading KEY=VALUE lines from stdin; end with Ctrl-D", file=sys.stderr)
        sealing.parse_env_file(sys.stdin.buffer.read(), "stdin", values)
    return values


@task(
    help={
        "env": "environment whose overlay receives the SealedSecret: dev, staging or prod",
        "name": "name of the Secret the controller will create (a Kubernetes name)",
        "cluster": "cluster whose certificate seals it (default: the environment's: dev=kind, "
        "staging/prod=k3s)",
        "from-literal": "KEY=VALUE, repeatable. Visible to other local users in /proc/<pid>/cmdline "
        "while invoke runs: prefer --from-env-file or --stdin for real secrets",
        "from-env-file": "file of KEY=VALUE lines (UTF-8, '#' comments), as kubectl's --from-env-file",
        "stdin": "read KEY=VALUE lines from standard input (e.g. from a password manager's CLI)",
        "scope": "strict (default: this name and namespace only), namespace-wide or cluster-wide",
        "engine": "auto (kubeseal when installed, else native), native or kubeseal",
    },
    iterable=["from_literal"],
)
def seal(
    c: Any,
    env: str,
    name: str,
    cluster: str = "",
    from_literal: list[str] | None = None,
    from_env_file: str = "",
    stdin: bool = False,
    scope: str = "strict",
    engine: str = "auto",
) -> None:
    """Seal a Secret with the cluster's committed certificate into overlays/<env>/sealed-secrets.yaml."""
    values = read_values(from_literal or [], from_env_file, stdin)
    result = sealing.seal(env, name, values, cluster=cluster or None, scope=scope, engine=engine)
    verb = "replaced" if result.replaced else "added"
    print(f"{verb} SealedSecret {result.namespace}/{result.name} ({', '.join(result.keys)}; scope {scope}; "
          f"{result.engine}) in {result.path.relative_to(config.ROOT)}")
    if result.kustomization_updated:
        print(f"listed {sealing.SEALED_FILE} in overlays/{env}/kustomization.yaml")


@task(
    help={
        "cluster": "kind or k3s",
        "backup": "where the private key backup goes (outside the repository; default "
        "~/.config/tasknote/sealed-secrets/<cluster>.yaml)",
        "replace": "replace an existing committed certificate (its SealedSecrets become unreadable "
        "for a cluster restored from the new key)",
        "seal-db": "also seal fresh tasknote-db credentials for each environment of the cluster "
        "(default on)",
    }
)
def init_key(c: Any, cluster: str, backup: str = "", replace: bool = False, seal_db: bool = True) -> None:
    """Make a new sealing key for a new cluster: private key backup outside the repo, public cert in it."""
    target = Path(backup) if backup else sealing.default_backup_path(cluster)
    result = sealing.init_key(cluster, target, replace=replace)
    print(f"wrote {result.cert_file.relative_to(config.ROOT)} (sha256 {result.fingerprint})")
    print(f"wrote the PRIVATE key backup to {result.backup} (mode 0600). {sealing.BACKUP_WARNING}")
    if seal_db:
        for sealed in sealing.seal_database_secrets(cluster):
            print(f"sealed fresh {sealed.namespace}/{sealed.name} into {sealed.path.relative_to(config.ROOT)}")


ns = Collection("secrets", seal, init_key)
