"""kind clusters from clusters/kind/kind-config.yaml: create, delete, load images."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from pathlib import Path

from gitops.cluster.kind_sites import KindSite, kind_config
from gitops.cluster.target import KIND_CLUSTER_NAME
from gitops.core import run, tools
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo


def config_file(repo: Repo) -> Path:
    return repo.cluster("kind") / "kind-config.yaml"


def clusters(repo: Repo) -> list[str]:
    kind = tools.require("kind", repo)
    result = run.run([str(kind), "get", "clusters"], timeout=30)
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def exists(repo: Repo, name: str = KIND_CLUSTER_NAME) -> bool:
    return name in clusters(repo)


def create_argv(kind: Path, name: str, config_path: Path, node_image: str) -> list[str]:
    # --image repeats the pinned node image so a config without one still gets the digest.
    return [str(kind), "create", "cluster", "--name", name, "--config", str(config_path),
            "--image", node_image, "--wait", "120s"]


def create(repo: Repo, name: str = KIND_CLUSTER_NAME, *, config_path: Path | None = None) -> str:
    """Create the cluster unless it exists; returns its kubeconfig context.

    An existing cluster is recovered instead: its node containers are started (they stay
    stopped after a reboot or a Docker restart) and its context is exported again.
    `config_path` replaces clusters/kind/kind-config.yaml (conformance's copy without host ports).
    """
    kind = tools.require("kind", repo)
    if exists(repo, name):
        docker = tools.require("docker", repo)
        run.run([str(docker), "start", *nodes(repo, name)], timeout=120)
        run.run([str(kind), "export", "kubeconfig", "--name", name], timeout=60)
    else:
        node_image = str(repo.version_of("kind", "node_image"))
        if "@sha256:" not in node_image:
            raise GitOpsError(f"versions.yaml kind.node_image {node_image!r} has no digest; pin it.")
        run.stream(create_argv(kind, name, config_path or config_file(repo), node_image), timeout=900)
    return f"kind-{name}"


def create_site(repo: Repo, site: KindSite) -> str:
    """Create (or recover) a site's cluster from clusters/kind/kind-config.yaml as that site
    needs it: as written for the developer's, without host port mappings for conformance's."""
    if site.host_ports:
        return create(repo, site.cluster)
    text = kind_config(config_file(repo).read_text(encoding="utf-8"), site)
    with tempfile.TemporaryDirectory(prefix="tasknote-kind-") as folder:
        path = Path(folder) / "kind-config.yaml"
        path.write_text(text, encoding="utf-8")
        return create(repo, site.cluster, config_path=path)


def delete(repo: Repo, name: str = KIND_CLUSTER_NAME) -> bool:
    """Delete the cluster; False when there was none (deleting twice is not an error)."""
    kind = tools.require("kind", repo)
    if not exists(repo, name):
        return False
    run.run([str(kind), "delete", "cluster", "--name", name], timeout=300)
    return True


def node_images(repo: Repo, name: str = KIND_CLUSTER_NAME) -> set[str]:
    """Image references present on the control-plane node (what `kind load` already put there)."""
    docker = tools.require("docker", repo)
    result = run.run([str(docker), "exec", f"{name}-control-plane", "crictl", "images", "-o", "json"],
                     timeout=60)

    refs: set[str] = set()
    for image in json.loads(result.stdout).get("images", []):
        refs.update(image.get("repoTags") or [])
        refs.update(image.get("repoDigests") or [])
    return refs


def load_images(repo: Repo, refs: Iterable[str], name: str = KIND_CLUSTER_NAME) -> list[str]:
    """Load local images into the nodes (no registry needed for a laptop cluster)."""
    kind = tools.require("kind", repo)
    loaded = []
    for ref in refs:
        run.run([str(kind), "load", "docker-image", "--name", name, ref], timeout=600)
        loaded.append(ref)
    return loaded


# --- a local registry the nodes pull from (kind's documented "local registry" set-up) -------

REGISTRY_CONTAINER = "tasknote-kind-registry"
REGISTRY_HOST = "localhost:5001"  # what image references say, on the host and in the nodes
REGISTRY_IMAGE = "registry:2"  # the air-gapped build provides this reference too


def registry_hosts_toml(container: str = REGISTRY_CONTAINER) -> str:
    """containerd's per-registry config: inside the nodes localhost:5001 means the registry
    container on the kind network, not the node itself."""
    return f'[host."http://{container}:5000"]\n'


def registry_configmap(host: str = REGISTRY_HOST) -> dict[str, object]:
    """KEP-1755's ConfigMap, so tools (Tilt, skaffold) discover the registry by themselves."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "local-registry-hosting", "namespace": "kube-public"},
            "data": {"localRegistryHosting.v1": f'host: "{host}"\nhelp: "https://kind.sigs.k8s.io/docs/user/local-registry/"\n'}}


def nodes(repo: Repo, name: str = KIND_CLUSTER_NAME) -> list[str]:
    kind = tools.require("kind", repo)
    result = run.run([str(kind), "get", "nodes", "--name", name], timeout=30)
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def registry_ready(repo: Repo, name: str = KIND_CLUSTER_NAME, *, container: str = REGISTRY_CONTAINER) -> bool:
    docker = tools.require("docker", repo)
    state = run.run([str(docker), "inspect", "-f", "{{.State.Running}} {{json .NetworkSettings.Networks}}",
                     container], check=False, timeout=30)
    if state.returncode != 0 or not state.stdout.startswith("true") or '"kind"' not in state.stdout:
        return False
    path = f"/etc/containerd/certs.d/{REGISTRY_HOST}/hosts.toml"
    for node in nodes(repo, name):
        seen = run.run([str(docker), "exec", node, "cat", path], check=False, timeout=30)
        if seen.stdout != registry_hosts_toml(container):
            return False
    return True


def ensure_registry(repo: Repo, name: str = KIND_CLUSTER_NAME, *, container: str = REGISTRY_CONTAINER,
                    port: int = 5001) -> None:
    """Start the registry (127.0.0.1:port only), join it to the kind network, point every node's
    localhost:5001 at it (the name the manifests use, whatever the host port)."""
    docker = str(tools.require("docker", repo))
    state = run.run([docker, "inspect", "-f", "{{.State.Running}}", container], check=False, timeout=30)
    if state.returncode != 0:
        run.run([docker, "run", "-d", "--restart=always", "-p", f"127.0.0.1:{port}:5000",
                 "--name", container, REGISTRY_IMAGE], timeout=120)
    elif state.stdout.strip() != "true":
        run.run([docker, "start", container], timeout=60)
    networks = run.run([docker, "inspect", "-f", "{{json .NetworkSettings.Networks}}", container],
                       timeout=30).stdout
    if '"kind"' not in networks:
        run.run([docker, "network", "connect", "kind", container], timeout=30)
    folder = f"/etc/containerd/certs.d/{REGISTRY_HOST}"
    for node in nodes(repo, name):
        run.run([docker, "exec", node, "mkdir", "-p", folder], timeout=30)
        run.run([docker, "exec", "-i", node, "tee", f"{folder}/hosts.toml"],
                input_text=registry_hosts_toml(container), timeout=30)


def delete_registry(repo: Repo, container: str = REGISTRY_CONTAINER) -> bool:
    return delete_container(repo, container)


def delete_container(repo: Repo, container: str) -> bool:
    """Remove a container this automation started (registry, Git server); False if there was none."""
    docker = str(tools.require("docker", repo))
    result = run.run([docker, "rm", "-f", container], check=False, timeout=60)
    return result.returncode == 0


def local_reference(image: str, host: str = REGISTRY_HOST) -> str:
    """tasknote:next -> localhost:5001/tasknote:next (the path without any registry host)."""
    name = image.split("@", 1)[0]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        name = rest
    return f"{host}/{name}" if ":" in name.rsplit("/", 1)[-1] else f"{host}/{name}:latest"


def push_local(repo: Repo, image: str, push_host: str = REGISTRY_HOST) -> str:
    """Push a local image to a kind registry and return it by digest, as a release would, under
    the name the nodes pull it by (localhost:5001, whichever host port it was pushed to)."""
    docker = str(tools.require("docker", repo))
    ref = local_reference(image, push_host)
    run.run([docker, "tag", image, ref], timeout=60)
    run.run([docker, "push", ref], timeout=600)
    digests = run.run([docker, "image", "inspect", "-f", "{{json .RepoDigests}}", ref], timeout=60).stdout
    repository = ref.rsplit(":", 1)[0]
    for entry in json.loads(digests or "[]"):
        if str(entry).startswith(f"{repository}@sha256:"):
            return REGISTRY_HOST + str(entry)[len(push_host):]
    raise GitOpsError(f"docker reports no digest for {ref} after the push; "
                      f"check the registry at {push_host}.")
