"""invoke tasks of the `secrets` namespace: thin wrappers that parse arguments and call one function."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke.collection import Collection

from gitops.cluster.target import Target
from gitops.core.errors import GitOpsError
from gitops.tasks._targets import (
    CLUSTER_KIND_HELP,
    DEPRECATED_CLUSTER_HELP,
    DEPRECATED_CONTEXT_HELP,
    TARGET_HELP,
    choose,
)
from gitops.tasks._task import task

if TYPE_CHECKING:
    from gitops.core.repo import Repo
    from gitops.secrets import controller, inputs

# The domain modules (sealing needs cryptography) are imported inside each task: `./inv --list`
# and the other namespaces should not pay for them.


def tree(target: str, cluster: str) -> str:
    """kind or k3s from --target (or the deprecated --cluster): tasks that only read or write a
    cluster's tree in Git, and contact no cluster, still take the one vocabulary."""
    if not (target or cluster):
        return ""
    chosen = choose(target, cluster=cluster)
    if not chosen.managed:
        raise GitOpsError(f"{target} names a kubeconfig context; this task only needs the tree, so use "
                          "--target kind or --target k3s.")
    return chosen.cluster


def terminal() -> inputs.Terminal:
    """The real stdin, hidden prompt and stderr, for the secrets.values readers."""
    from gitops.secrets import inputs

    return inputs.Terminal(
        read_stdin=sys.stdin.buffer.read,
        stdin_is_tty=sys.stdin.isatty(),
        prompt=inputs.hidden_prompt,
        warn=lambda text: print(text, file=sys.stderr),
    )


@task(
    help={
        "env": "environment whose overlay receives the SealedSecret: dev, staging or prod",
        "name": "name of the Secret the controller will create (a Kubernetes name)",
        "target": "kind or k3s: the cluster whose committed certificate seals it (default: the "
        "environment's: dev=kind, staging/prod=k3s); nothing is contacted",
        "cluster": DEPRECATED_CLUSTER_HELP,
        "type": "Opaque (default), docker-registry (kubernetes.io/dockerconfigjson) or tls "
        "(kubernetes.io/tls); the full type names work too",
        "from-literal": "KEY: prompted for without echo (or one line of piped stdin per KEY). "
        "KEY=VALUE also works but leaves the value in shell history and /proc; repeatable",
        "from-file": "KEY=PATH or PATH (key = file name): the file's bytes as the value, binary "
        "welcome; repeatable",
        "from-env-file": "file of KEY=VALUE lines read exactly as kubectl's --from-env-file; repeatable",
        "stdin": "read KEY=VALUE lines from standard input (e.g. from a password manager's CLI)",
        "docker-server": "docker-registry: the registry host (default https://index.docker.io/v1/, "
        "as kubectl)",
        "docker-username": "docker-registry: the user; the password is prompted for or read from stdin",
        "docker-email": "docker-registry: optional e-mail",
        "cert": "tls: PEM certificate (chain) file",
        "key": "tls: PEM private key file of that certificate",
        "scope": "strict (default: this name and namespace only), namespace-wide or cluster-wide",
        "engine": "auto (kubeseal when installed, else native), native or kubeseal",
    },
    iterable=["from_literal", "from_file", "from_env_file"],
    auto_shortflags=False,
)
def seal(
    c: Any,
    env: str,
    name: str,
    target: str = "",
    cluster: str = "",
    type: str = "Opaque",  # the flag is --type, as kubectl's
    from_literal: list[str] | None = None,
    from_file: list[str] | None = None,
    from_env_file: list[str] | None = None,
    stdin: bool = False,
    docker_server: str = "",
    docker_username: str = "",
    docker_email: str = "",
    cert: str = "",
    key: str = "",
    scope: str = "strict",
    engine: str = "auto",
) -> None:
    """Seal a Secret with the cluster's committed certificate into overlays/<env>/sealed-secrets.yaml."""
    from gitops.core.repo import Repo
    from gitops.secrets import crypto, inputs, sealing, values

    sources = inputs.Sources(tuple(from_literal or ()), tuple(from_file or ()), tuple(from_env_file or ()),
                             stdin)
    request = values.check(values.Request(values.secret_type_of(type), sources, docker_server,
                                          docker_username, docker_email, cert, key))
    # Refuse a typo in the target before anyone types a password.
    repo = Repo.discover()
    cluster = tree(target, cluster)
    sealing.check_env_cluster(env, cluster or None)
    inputs.check_name(name)
    crypto.check_scope(scope)
    data = values.read_values(request, terminal())
    result = sealing.seal(env, name, data, cluster=cluster or None, scope=scope, engine=engine,
                          secret_type=request.secret_type, repo=repo)
    verb = "replaced" if result.replaced else "added"
    print(f"{verb} SealedSecret {result.namespace}/{result.name} ({', '.join(result.keys)}; "
          f"{request.secret_type}; scope {scope}; {result.engine}) in {result.path.relative_to(repo.root)}")
    if result.kustomization_updated:
        print(f"listed {sealing.SEALED_FILE} in overlays/{env}/kustomization.yaml")


@task(
    help={
        "target": "kind or k3s: the cluster tree whose certificate is written (clusters/<target>/); "
        "nothing is contacted",
        "cluster": DEPRECATED_CLUSTER_HELP,
        "backup": "where the private key backup goes (outside the repository; default "
        "~/.config/tasknote/sealed-secrets/<cluster>.yaml)",
        "replace": "replace an existing committed certificate (its SealedSecrets become unreadable "
        "for a cluster restored from the new key)",
        "seal-db": "also seal fresh tasknote-db (owner) and tasknote-db-app (app login) credentials for "
        "each environment of the cluster "
        "(default on)",
    }
)
def init_key(c: Any, target: str = "", cluster: str = "", backup: str = "", replace: bool = False,
             seal_db: bool = True) -> None:
    """Make a new sealing key for a new cluster: private key backup outside the repo, public cert in it."""
    from gitops.core.repo import Repo
    from gitops.secrets import keys, sealing

    repo = Repo.discover()
    cluster = tree(target, cluster)
    if not cluster:
        raise GitOpsError("name the cluster tree with --target kind or --target k3s.")
    backup_file = Path(backup) if backup else keys.default_backup_path(cluster)
    result = keys.init_key(cluster, backup_file, repo, replace=replace)
    print(f"wrote {result.cert_file.relative_to(repo.root)} (sha256 {result.fingerprint})")
    print(f"wrote the PRIVATE key backup to {result.backup} (mode 0600). {keys.BACKUP_WARNING}")
    if seal_db:
        for sealed in sealing.seal_database_secrets(cluster, repo):
            where = sealed.path.relative_to(repo.root)
            print(f"sealed fresh {sealed.namespace}/{sealed.name} into {where}")


CONTROLLER_HELP = {
    "target": TARGET_HELP + "; required: the secrets tasks never fall back to the current context",
    "cluster-kind": CLUSTER_KIND_HELP,
    "context": DEPRECATED_CONTEXT_HELP,
    "namespace": "namespace of the sealed-secrets controller (default: versions.yaml "
    "platform.sealed_secrets.namespace)",
    "service": "the controller's Service (default: versions.yaml platform.sealed_secrets.service); "
    "its first port's name is read from it, as kubeseal does",
}


def access(repo: Repo, chosen: Target, namespace: str, service: str) -> controller.ControllerAccess:
    from gitops.cluster.port import Port
    from gitops.secrets import controller, keys

    return controller.ControllerAccess(Port(repo, chosen), namespace or keys.controller_namespace(repo),
                                       service or keys.controller_service(repo))


@task(help={"cluster": DEPRECATED_CLUSTER_HELP + " (the tree the certificate is written to)",
            "replace": "accept a certificate that differs from the committed one (after a key rotation)",
            **CONTROLLER_HELP})
def fetch_cert(c: Any, target: str = "", cluster_kind: str = "", cluster: str = "", context: str = "",
               replace: bool = False, namespace: str = "", service: str = "") -> None:
    """Read the controller's public certificate from the cluster into clusters/<cluster>/."""
    from gitops.core.repo import Repo
    from gitops.secrets import controller

    repo = Repo.discover()
    chosen = choose(target, cluster_kind, cluster=cluster, context=context)
    result = controller.fetch_cert(repo, chosen.cluster, access(repo, chosen, namespace, service),
                                   replace=replace)
    where = result.path.relative_to(repo.root)
    if not result.changed:
        print(f"{where} already holds the cluster's certificate (sha256 {result.fingerprint})")
    else:
        print(f"wrote {where} (sha256 {result.fingerprint}); commit it")


@task(help={"cluster": DEPRECATED_CLUSTER_HELP + " (re-encrypts that cluster's environments)",
            **CONTROLLER_HELP})
def reencrypt(c: Any, target: str = "", cluster_kind: str = "", cluster: str = "", context: str = "",
              namespace: str = "", service: str = "") -> None:
    """Re-encrypt every SealedSecret of the cluster with the controller's newest key (/v1/rotate)."""
    from gitops.core.repo import Repo
    from gitops.secrets import controller

    repo = Repo.discover()
    chosen = choose(target, cluster_kind, cluster=cluster, context=context)
    result = controller.reencrypt(repo, chosen.cluster, access(repo, chosen, namespace, service))
    for path in result.files:
        print(f"re-encrypted {path.relative_to(repo.root)}")
    print(f"{result.objects} SealedSecret(s) re-encrypted; commit the overlays")


@task(help={"out": "file to write, OUTSIDE the repository (written with mode 0600)",
            "force": "overwrite an existing file", **CONTROLLER_HELP})
def backup_key(c: Any, out: str = "", target: str = "", cluster_kind: str = "", context: str = "",
               force: bool = False, namespace: str = "", service: str = "") -> None:
    """Export the controller's PRIVATE keys to a file outside the repository (for disaster recovery)."""
    from gitops.core.repo import Repo
    from gitops.secrets import controller, keys

    if not out:
        raise GitOpsError("give --out PATH, a file outside the repository for the private keys.")
    repo = Repo.discover()
    chosen = choose(target, cluster_kind, context=context)
    path, count = controller.backup_keys(repo, Path(out), access(repo, chosen, namespace, service),
                                         force=force)
    print(f"wrote {count} private key(s) to {path} (mode 0600).")
    print(f"WARNING: {keys.BACKUP_WARNING}")


@task(help={"backup": "key backup written by secrets.backup-key or secrets.init-key",
            **{k: v for k, v in CONTROLLER_HELP.items() if k != "service"}})
def restore_key(c: Any, backup: str = "", target: str = "", cluster_kind: str = "", context: str = "",
                namespace: str = "") -> None:
    """Apply a key backup to a cluster, so its controller can decrypt the repository's SealedSecrets."""
    from gitops.cluster.port import Port
    from gitops.core.repo import Repo
    from gitops.secrets import controller, keys

    if not backup:
        raise GitOpsError("give --backup PATH, the file secrets.backup-key or secrets.init-key wrote.")
    repo = Repo.discover()
    chosen = choose(target, cluster_kind, context=context)
    where = namespace or keys.controller_namespace(repo)
    count = controller.apply_keys(Port(repo, chosen), keys.restore_key(Path(backup), where))
    print(f"applied {count} key Secret(s) on {chosen.describe()}; if the controller already runs, "
          f"restart it (kubectl -n {where} rollout restart deployment) so it reads them")


@task(help={"staged": "scan only the files staged for commit (the pre-commit hook)",
            "history": "also scan every commit of every ref (default on; --no-history skips it)"})
def scan(c: Any, staged: bool = False, history: bool = True) -> None:
    """Fail on plaintext Secrets, private keys, tokens and high-entropy strings in the tree and history."""
    from gitops.core.repo import Repo
    from gitops.secrets import scan

    report = scan.scan(Repo.discover().root, history=history, staged=staged)
    for finding in report.findings:
        print(finding.describe(), file=sys.stderr)
    if not report.ok:
        raise GitOpsError(
            f"{len(report.findings)} possible secret(s) in the {report.scanned}; seal them with "
            f"./inv secrets.seal, or list a known-safe one with its reason in {scan.ALLOWLIST}."
        )
    print(f"no secrets found in the {report.scanned}")


@task(help={})
def install_hook(c: Any) -> None:
    """Install the git pre-commit hook that runs `./inv secrets.scan --staged`."""
    from gitops.core.repo import Repo
    from gitops.secrets import scan

    print(f"installed {scan.install_hook(Repo.discover().root)}")


ns = Collection("secrets", seal, init_key, fetch_cert, reencrypt, backup_key, restore_key, scan, install_hook)
