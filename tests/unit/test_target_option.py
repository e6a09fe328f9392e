"""--target everywhere a cluster is chosen, and the deprecated --cluster/--context spellings."""

from __future__ import annotations

import os
import sys

import pytest
from gitops.cluster.target import Target, resolve
from gitops.core import run
from gitops.core.errors import GitOpsError
from gitops.tasks._targets import choose
from gitops.tasks.secrets import tree
from support.checkout import ROOT


def test_target_spellings_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert choose("kind") == resolve("kind")
    assert choose("", default="kind") == resolve("kind")
    assert choose("context:vps", "k3s") == Target("k3s", "vps", None, managed=False)
    assert capsys.readouterr().err == ""


def test_a_secrets_task_never_falls_back_to_the_current_context() -> None:
    with pytest.raises(GitOpsError, match="name the cluster with --target kind, --target k3s or"):
        choose("")
    # --target kind means kind's own context, not whatever the kubeconfig has current.
    assert choose("kind").context == "kind-tasknote"


def test_old_spellings_print_one_deprecation_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert choose("", cluster="k3s") == resolve("k3s")
    assert capsys.readouterr().err == "deprecated: --cluster/--context will go away; use --target k3s\n"
    assert choose("", cluster="k3s", context="vps") == Target("k3s", "vps", None, managed=False)
    assert capsys.readouterr().err == ("deprecated: --cluster/--context will go away; "
                                       "use --target context:vps --cluster-kind k3s\n")
    with pytest.raises(GitOpsError, match="either --target or the deprecated"):
        choose("kind", cluster="kind")


ANY_CLUSTER = ["bootstrap", "smoke", "cluster.kubeconfig", "secrets.fetch-cert", "secrets.reencrypt",
               "secrets.backup-key", "secrets.restore-key"]
# These create or delete the cluster themselves, so an existing context is not a choice there.
MANAGED_ONLY = ["conformance", "cluster.create", "cluster.delete"]


@pytest.mark.parametrize("task", ANY_CLUSTER + MANAGED_ONLY)
def test_every_cluster_choosing_task_takes_target_and_help_exits_0(task: str) -> None:
    result = run.run([sys.executable, "-m", "invoke", task, "--help"], cwd=ROOT, env=dict(os.environ),
                     timeout=60)
    assert "--target" in result.stdout
    assert ("context:NAME" in result.stdout) == (task in ANY_CLUSTER)


def test_secrets_task_with_a_bare_old_context_option_says_what_to_type() -> None:
    env = {**os.environ, "KUBECONFIG": "/nonexistent/kubeconfig"}
    result = run.run([sys.executable, "-m", "invoke", "secrets.fetch-cert", "--context", "gone"], cwd=ROOT,
                     env=env, check=False, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "deprecated: --cluster/--context will go away; use --target context:gone"
    assert lines[1].startswith("error: kubeconfig context 'gone' is not usable") and len(lines) == 2


def test_tree_only_secrets_tasks_take_target_too(capsys: pytest.CaptureFixture[str]) -> None:
    """secrets.seal and secrets.init-key contact no cluster, but name it the same way."""
    assert tree("k3s", "") == "k3s"
    assert tree("", "") == ""
    assert capsys.readouterr().err == ""
    assert tree("", "kind") == "kind"
    assert capsys.readouterr().err == "deprecated: --cluster/--context will go away; use --target kind\n"
    with pytest.raises(GitOpsError, match=r"names a kubeconfig context; this task only needs the tree"):
        tree("context:vps", "")


def test_init_key_without_a_target_is_one_sentence() -> None:
    result = run.run([sys.executable, "-m", "invoke", "secrets.init-key"], cwd=ROOT, check=False, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: name the cluster tree with --target kind or --target k3s."
