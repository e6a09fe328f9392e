"""kind.create/delete drive the real kind and docker CLIs; here those CLIs are small recording
scripts (the clusters they would make cannot run on this machine), so what is checked is the
commands issued for a new, an existing and a missing cluster."""

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from gitops.cluster import kind
from gitops.core import tools
from support.checkout import this_repo

REPO = this_repo()

FAKE = """#!{python}
import json, sys, pathlib
log = pathlib.Path({log!r})
calls = json.loads(log.read_text()) if log.exists() else []
calls.append([{name!r}, *sys.argv[1:]])
log.write_text(json.dumps(calls))
args = sys.argv[1:]
if args[:1] == ["version"] and {name!r} == "kind":
    print("kind v0.33.0 go1.25.3 linux/amd64")
elif args[:1] == ["version"]:
    print("26.1.5")
elif args[:2] == ["get", "clusters"]:
    print({clusters!r})
elif args[:2] == ["get", "nodes"]:
    print("tasknote-control-plane\\ntasknote-worker")
"""


@pytest.fixture
def fake_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    log = tmp_path / "calls.json"

    def install(clusters: str) -> Path:
        for name in ("kind", "docker"):
            path = tmp_path / name
            path.write_text(FAKE.format(python=sys.executable, log=str(log), name=name, clusters=clusters))
            path.chmod(0o755)
        monkeypatch.setattr(tools, "locate", lambda name: tmp_path / name)
        return log

    return install


def calls(log: Path) -> list[list[str]]:
    return [c for c in json.loads(log.read_text()) if c[1:2] != ["version"]]


def test_create_new_cluster_uses_the_config_and_pinned_node_image(fake_cli: Callable[[str], Path]) -> None:
    log = fake_cli("")
    assert kind.create(REPO) == "kind-tasknote"
    create = next(c for c in calls(log) if c[1:3] == ["create", "cluster"])
    assert create[create.index("--config") + 1] == str(REPO.root / "clusters" / "kind" / "kind-config.yaml")
    assert create[create.index("--image") + 1] == REPO.version_of("kind", "node_image")


def test_create_existing_cluster_restarts_nodes_and_exports_context(fake_cli: Callable[[str], Path]) -> None:
    log = fake_cli("tasknote")
    kind.create(REPO)
    issued = calls(log)
    assert ["docker", "start", "tasknote-control-plane", "tasknote-worker"] in issued
    assert ["kind", "export", "kubeconfig", "--name", "tasknote"] in issued
    assert not any(c[1:3] == ["create", "cluster"] for c in issued)


def test_delete_twice_is_not_an_error(fake_cli: Callable[[str], Path]) -> None:
    log = fake_cli("")
    assert kind.delete(REPO) is False
    assert not any(c[1:2] == ["delete"] for c in calls(log))
