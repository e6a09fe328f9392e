"""The `done()` checks of bootstrap's registry, images and argocd steps, and the reads under them
(kind.node_images, kind.registry_ready), against recorded output at the boundaries we cannot run
here: the docker CLI (gitops.core.run.run is replaced by a table of recorded answers) and the
Kubernetes API (tests/support/fakeport.FakePort holding recorded JSON).

Recorded shapes: `crictl images -o json` prints the CRI ListImagesResponse (cri-api
pkg/apis/runtime/v1 api.proto `Image`: id, repoTags, repoDigests, size, uid, username, spec,
pinned), with images `kind load` imported listed under their canonical docker.io/library/... name
(kubernetes-sigs/kind pkg/cmd/kind/load/docker-image normalises for that reason). The Deployment
is tests/fixtures/cluster/deployment-ready.json with argocd-server's name and the image Argo CD's
install.yaml runs (quay.io/argoproj/argocd:v<version>).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from gitops.cluster import kind
from gitops.cluster.target import Target
from gitops.core import imageref, run, tools
from gitops.lifecycle import bootstrap
from support.checkout import this_repo
from support.fakeport import FakePort

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cluster"
REPO = this_repo()
KIND_TARGET = Target("kind", "kind-tasknote")


def crictl_images(*images: dict[str, Any]) -> str:
    return json.dumps({"images": [{"id": f"sha256:{i:064x}", "repoTags": [], "repoDigests": [],
                                   "size": "51234567", "uid": None, "username": "", "spec": None,
                                   "pinned": False, **image} for i, image in enumerate(images, 1)]})


class Docker:
    """Recorded answers of the docker CLI, keyed by argv after the docker binary."""

    def __init__(self, answers: dict[tuple[str, ...], tuple[int, str]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: list[str], **_: Any) -> run.Result:
        key = tuple(str(a) for a in argv[1:])
        self.calls.append(key)
        code, out = self.answers.get(key, (1, ""))
        return run.Result(tuple(map(str, argv)), code, out, "")


@pytest.fixture()
def docker(monkeypatch: pytest.MonkeyPatch) -> Docker:
    fake = Docker({})
    monkeypatch.setattr(tools, "require", lambda name, repo: Path(f"/usr/bin/{name}"))
    monkeypatch.setattr(run, "run", fake)
    return fake


def images_done(options: bootstrap.Options) -> bool:
    steps = {s.name: s for s in bootstrap.build_steps(REPO, KIND_TARGET, options, FakePort(KIND_TARGET))}
    check = steps["images"].check
    assert check is not None
    return check()


CRICTL = ("exec", "tasknote-control-plane", "crictl", "images", "-o", "json")


# ---- the reference grammar ----------------------------------------------------------------------

@pytest.mark.parametrize("ref,canonical", [
    ("tasknote:dev", "docker.io/library/tasknote:dev"),
    ("tasknote", "docker.io/library/tasknote:latest"),
    ("acme/tasknote:1.2", "docker.io/acme/tasknote:1.2"),
    ("docker.io/tasknote:1", "docker.io/library/tasknote:1"),
    ("index.docker.io/library/redis:8", "docker.io/library/redis:8"),
    ("localhost/tasknote:dev", "localhost/tasknote:dev"),
    ("localhost:5001/tasknote:next", "localhost:5001/tasknote:next"),
    ("ghcr.io/acme/tasknote:1.0", "ghcr.io/acme/tasknote:1.0"),
    ("registry:5000/x", "registry:5000/x:latest"),
    ("ghcr.io/acme/t:1.0@sha256:" + "a" * 64, "ghcr.io/acme/t@sha256:" + "a" * 64),
])
def test_normalize_follows_the_distribution_reference_grammar(ref: str, canonical: str) -> None:
    assert imageref.normalize(ref) == canonical


# ---- node_images and the images step -------------------------------------------------------------

def test_node_images_lists_tags_and_digests_of_the_control_plane(docker: Docker) -> None:
    docker.answers[CRICTL] = (0, crictl_images(
        {"repoTags": ["docker.io/library/tasknote:dev"]},
        {"repoTags": ["registry.k8s.io/pause:3.10"],
         "repoDigests": ["registry.k8s.io/pause@sha256:" + "b" * 64]}))
    assert kind.node_images(REPO) == {"docker.io/library/tasknote:dev", "registry.k8s.io/pause:3.10",
                                  "registry.k8s.io/pause@sha256:" + "b" * 64}
    assert docker.calls == [CRICTL]


def test_short_name_loaded_by_kind_counts_as_loaded(docker: Docker) -> None:
    """The defect: `--image tasknote:dev` was compared with docker.io/library/tasknote:dev and
    never counted, so every run ended "ran but its check still fails"."""
    docker.answers[CRICTL] = (0, crictl_images({"repoTags": ["docker.io/library/tasknote:dev"]}))
    assert images_done(bootstrap.Options(images=("tasknote:dev",))) is True


def test_image_missing_from_the_node_is_not_done(docker: Docker) -> None:
    docker.answers[CRICTL] = (0, crictl_images({"repoTags": ["docker.io/library/tasknote:old"]}))
    assert images_done(bootstrap.Options(images=("tasknote:dev",))) is False
    assert images_done(bootstrap.Options(images=("tasknote:dev", "tasknote:old"))) is False


def test_image_by_digest_matches_the_nodes_repo_digest(docker: Docker) -> None:
    digest = "sha256:" + "c" * 64
    docker.answers[CRICTL] = (0, crictl_images({"repoDigests": [f"docker.io/acme/tasknote@{digest}"]}))
    assert images_done(bootstrap.Options(images=(f"acme/tasknote@{digest}",))) is True


def test_no_images_asked_is_done_without_asking_docker(docker: Docker) -> None:
    assert images_done(bootstrap.Options()) is True
    assert docker.calls == []


# ---- registry_ready ---------------------------------------------------------------------------------

INSPECT = ("inspect", "-f", "{{.State.Running}} {{json .NetworkSettings.Networks}}", kind.REGISTRY_CONTAINER)
NODES = ("tasknote-control-plane", "tasknote-worker")
HOSTS_PATH = f"/etc/containerd/certs.d/{kind.REGISTRY_HOST}/hosts.toml"


def registry_answers(docker: Docker, *, running: str = "true", network: str = "kind",
                     hosts: dict[str, str] | None = None) -> None:
    docker.answers[INSPECT] = (0, f'{running} {{"{network}":{{"IPAddress":"172.18.0.5"}}}}\n')
    hosts = hosts if hosts is not None else {n: kind.registry_hosts_toml() for n in NODES}
    for node, text in hosts.items():
        docker.answers[("exec", node, "cat", HOSTS_PATH)] = (0, text)


@pytest.fixture()
def kind_nodes(monkeypatch: pytest.MonkeyPatch, docker: Docker) -> None:
    real_run = run.run

    def with_kind(argv: list[str], **kw: Any) -> run.Result:
        if argv[1:] == ["get", "nodes", "--name", "tasknote"]:
            return run.Result(tuple(argv), 0, "\n".join(NODES) + "\n", "")
        return real_run(argv, **kw)

    monkeypatch.setattr(run, "run", with_kind)


def test_registry_ready_when_running_on_the_kind_network_and_every_node_points_at_it(
        docker: Docker, kind_nodes: None) -> None:
    registry_answers(docker)
    assert kind.registry_ready(REPO) is True


@pytest.mark.parametrize("change", [
    {"running": "false"},
    {"network": "bridge"},
    {"hosts": {"tasknote-control-plane": kind.registry_hosts_toml(), "tasknote-worker": ""}},
])
def test_registry_not_ready(docker: Docker, kind_nodes: None, change: dict[str, Any]) -> None:
    registry_answers(docker, **change)
    assert kind.registry_ready(REPO) is False


def test_registry_absent_is_not_ready(docker: Docker, kind_nodes: None) -> None:
    assert kind.registry_ready(REPO) is False


# ---- argocd_done -------------------------------------------------------------------------------------

def argocd_server(image: str, ready: bool = True) -> dict[str, Any]:
    doc = copy.deepcopy(json.loads((FIXTURES / "deployment-ready.json").read_text()))
    doc["metadata"].update(name="argocd-server", namespace="argocd")
    doc["spec"]["template"]["spec"]["containers"][0].update(name="argocd-server", image=image)
    if not ready:
        doc["status"]["readyReplicas"] = 0
        doc["status"]["availableReplicas"] = 0
    return doc


def argocd_done(crd: bool, server: dict[str, Any] | None) -> bool:
    port = FakePort(KIND_TARGET)
    if crd:
        port.seed({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                   "metadata": {"name": "applications.argoproj.io"}})
    if server is not None:
        port.seed(server)
    steps = {s.name: s for s in bootstrap.build_steps(REPO, KIND_TARGET, bootstrap.Options(), port)}
    check = steps["argocd"].check
    assert check is not None
    return bool(check())


PINNED = str(REPO.versions["platform"]["argocd"]["version"])


def test_argocd_done_at_the_pinned_version_and_ready() -> None:
    assert argocd_done(True, argocd_server(f"quay.io/argoproj/argocd:v{PINNED}")) is True


@pytest.mark.parametrize("crd,server", [
    (False, argocd_server(f"quay.io/argoproj/argocd:v{PINNED}")),
    (True, None),
    (True, argocd_server("quay.io/argoproj/argocd:v3.3.0")),
    (True, argocd_server(f"quay.io/argoproj/argocd:v{PINNED}", ready=False)),
], ids=["no-crd", "no-server", "other-version", "not-ready"])
def test_argocd_not_done(crd: bool, server: dict[str, Any] | None) -> None:
    assert argocd_done(crd, server) is False
