"""The kind cluster's local Git source: a read-only smart-HTTP Git server Argo CD reads from.

Where it runs, and why: a container on kind's Docker network, beside the local registry
(tasknote-kind-registry), not a Deployment in the cluster. The repository it serves is a bare
repository in a host directory (outside the checkout) bind-mounted read-only, so publishing is
a plain local `git push` into that directory: no port-forward, no image to load into the nodes,
no cluster needed to publish, and the history survives `kind delete cluster` (a re-created
cluster re-uses the same published commit and the same database credentials sealed in it).
The read-only mount plus `http.receivepack=false` (clusters/kind/git-server/gitconfig) means
nothing reaching it over the network can write to it.

How the cluster reaches it: pods resolve container names on kind's network. The node's
resolv.conf points at Docker's embedded DNS through the host IP, and kind applies those DNAT rules
"also ... to non-local traffic (from pods)" (kubernetes-sigs/kind
images/base/files/usr/local/bin/entrypoint, enable_network_magic; maintainers' explanation in
kubernetes-sigs/kind#2383 and #1594); CoreDNS forwards what it does not know to that resolver.
So Argo CD's repo-server clones http://tasknote-kind-git:8080/git/tasknote.git. Plain HTTP is
what an Argo CD repository URL may be: its repo-server shells out to git (`git fetch origin
<revision>`, argoproj/argo-cd util/git/client.go) and lists refs with go-git's HTTP transport
(same file, getRefs); `insecure` only concerns TLS verification and SSH host keys
(https://argo-cd.readthedocs.io/en/release-3.1/operator-manual/argocd-repositories-yaml/), and a
public repository needs no repository Secret at all.

The image (clusters/kind/git-server) is Debian's git-http-backend behind lighttpd. It builds
FROM the public Debian image pinned by digest, or FROM the air-gapped stand-in
`debian:trixie-slim` when `./inv images.airgap` made one (it carries the air-gap label).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from gitops.cluster.kind_sites import DEVELOPER, KindSite
from gitops.core import run, tools
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.images.airgap import LABEL as AIRGAP_LABEL  # set on every air-gapped stand-in

CONTAINER = "tasknote-kind-git"
NETWORK = "kind"  # kind's own Docker network, where the nodes and the registry are
PORT = 8080
REPOSITORY = "tasknote.git"
IMAGE_NAME = "tasknote-git-server"
AIRGAP_BASE = "debian:trixie-slim"
INPUTS_LABEL = "org.tasknote.git-server.inputs"
MOUNT = "/srv/git"


def state_dir(site: KindSite = DEVELOPER) -> Path:
    """Where a site's served bare repositories live: the user's state directory, never the
    checkout, one folder per kind site (the developer's keeps its old name, `kind`)."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "tasknote" / "git" / ("kind" if site == DEVELOPER else site.cluster)


@dataclass(frozen=True)
class GitServer:
    """One server: its container, the network it joins and the host directory it serves."""

    root: Path  # host directory mounted read-only at /srv/git
    container: str = CONTAINER
    network: str = NETWORK
    image: str = ""  # filled in by image_ref() when empty

    @property
    def bare_repo(self) -> Path:
        return self.root / REPOSITORY

    @property
    def url(self) -> str:
        """The URL other containers on the network (and pods in kind) clone."""
        return repo_url(self.container)


def repo_url(container: str = CONTAINER) -> str:
    return f"http://{container}:{PORT}/git/{REPOSITORY}"


def for_site(site: KindSite = DEVELOPER) -> GitServer:
    """The Git server of a kind site: its container on the kind network, its state folder."""
    return GitServer(state_dir(site), container=site.git_container)


def default() -> GitServer:
    return for_site(DEVELOPER)


# --- the image ---------------------------------------------------------------------------------


def context_dir(repo: Repo) -> Path:
    return repo.cluster("kind") / "git-server"


def context_hash(context: Path) -> str:
    """sha256 over the build context's files (path and bytes): the image's tag and label."""
    if not (context / "Dockerfile").is_file():
        raise GitOpsError(f"{context} has no Dockerfile; restore clusters/kind/git-server from Git.")
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(path.relative_to(context).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def image_ref(inputs: str) -> str:
    return f"{IMAGE_NAME}:{inputs[:12]}"


def build_argv(docker: str, ref: str, inputs: str, context: Path, *, airgap_base: bool) -> list[str]:
    """`docker build` of the server image; FROM the air-gapped stand-in when there is one."""
    argv = [docker, "build", "--quiet", "--label", f"{INPUTS_LABEL}={inputs}", "--tag", ref]
    if airgap_base:
        argv += ["--build-arg", f"BASE={AIRGAP_BASE}"]
    return [*argv, str(context)]


def has_airgap_base(docker: str) -> bool:
    """True when the local `debian:trixie-slim` is the stand-in ./inv images.airgap built."""
    result = run.run([docker, "image", "inspect", "-f", "{{json .Config.Labels}}", AIRGAP_BASE],
                     check=False, timeout=30)
    if result.returncode != 0:
        return False
    labels = json.loads(result.stdout or "null") or {}
    return bool(labels.get(AIRGAP_LABEL) == "true")


def ensure_image(repo: Repo) -> str:
    """The server image for this checkout's context, built only when no image carries its inputs hash."""
    docker = str(tools.docker_engine(repo))
    context = context_dir(repo)
    inputs = context_hash(context)
    ref = image_ref(inputs)
    present = run.run([docker, "image", "inspect", "-f", "{{index .Config.Labels \"" + INPUTS_LABEL + "\"}}",
                       ref], check=False, timeout=30)
    if present.returncode == 0 and present.stdout.strip() == inputs:
        return ref
    result = run.run(build_argv(docker, ref, inputs, context, airgap_base=has_airgap_base(docker)),
                     check=False, timeout=1200)
    if result.returncode != 0:
        raise GitOpsError(f"building the Git server image from {context} failed "
                          f"({run.tail(result.stderr or result.stdout, 2)}); "
                          "check Docker and the Debian mirror, then re-run.")
    return ref


# --- the served repository ---------------------------------------------------------------------


def init_bare_repo(path: Path) -> bool:
    """Create the served bare repository (HEAD on main); False when it already exists.

    The server reads as www-data, not as the user who publishes: the mounted directory is made
    0755 and the repository `--shared=0644`, so git keeps every file it writes (pushes too)
    world-readable whatever the user's umask (git-init(1) --shared=0xxx overrides umask).
    """
    if (path / "HEAD").is_file():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o755)
    run.run(["git", "init", "--quiet", "--bare", "--shared=0644", str(path)], timeout=30)
    # A clone without --branch checks out what HEAD names: the branch publish writes.
    run.run(["git", "--git-dir", str(path), "symbolic-ref", "HEAD", "refs/heads/main"], timeout=30)
    return True


# --- the container -----------------------------------------------------------------------------


def run_argv(docker: str, server: GitServer, image: str) -> list[str]:
    """The container: on the network only (no host port), the repositories mounted read-only."""
    return [docker, "run", "--detach", "--restart=always", "--name", server.container,
            "--network", server.network,
            "--volume", f"{server.root.resolve()}:{MOUNT}:ro",
            # Paths inside the container (fresh tmpfs each start), not this machine's /tmp.
            "--read-only", "--tmpfs", "/var/tmp", "--tmpfs", "/tmp",  # noqa: S108
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            image]


def probe_argv(docker: str, server: GitServer) -> list[str]:
    """`git ls-remote` through the server's own HTTP endpoint, from inside its container."""
    return [docker, "exec", server.container, "git", "ls-remote",
            f"http://127.0.0.1:{PORT}/git/{REPOSITORY}"]


def running_on(docker: str, server: GitServer) -> tuple[bool, bool, str]:
    """(running, joined to its network, image) of the container as Docker reports it."""
    state = run.run([docker, "inspect", "-f", "{{.State.Running}} {{json .NetworkSettings.Networks}} "
                     "{{.Config.Image}}", server.container], check=False, timeout=30)
    if state.returncode != 0:
        return False, False, ""
    running, _, rest = state.stdout.strip().partition(" ")
    networks, _, image = rest.rpartition(" ")
    joined = server.network in (json.loads(networks or "{}") or {})
    return running == "true", joined, image


def ready(repo: Repo, server: GitServer) -> bool:
    """Running on its network and answering ls-remote for the served repository."""
    docker = str(tools.docker_engine(repo))
    running, joined, _ = running_on(docker, server)
    if not (running and joined and (server.bare_repo / "HEAD").is_file()):
        return False
    return run.run(probe_argv(docker, server), check=False, timeout=30).returncode == 0


def ensure(repo: Repo, server: GitServer) -> GitServer:
    """Build the image if needed, create the bare repository, start the container on its network.

    A container running an older image (its build context changed) is replaced: it holds no
    state, the repositories live in the host directory.
    """
    docker = str(tools.docker_engine(repo))
    image = server.image or ensure_image(repo)
    init_bare_repo(server.bare_repo)
    running, joined, current = running_on(docker, server)
    if current and current != image:
        run.run([docker, "rm", "--force", server.container], timeout=60)
        running, joined, current = False, False, ""
    if not current:
        network = run.run([docker, "network", "inspect", server.network], check=False, timeout=30)
        if network.returncode != 0:
            raise GitOpsError(f"Docker network {server.network!r} does not exist; create the kind cluster "
                              "first (./inv cluster.create), it makes that network.")
        run.run(run_argv(docker, server, image), timeout=120)
    elif not running:
        run.run([docker, "start", server.container], timeout=60)
    if current and not joined:
        run.run([docker, "network", "connect", server.network, server.container], timeout=30)
    return GitServer(server.root, server.container, server.network, image)


def delete(repo: Repo, server: GitServer) -> bool:
    """Remove the container (the published history stays in the host directory)."""
    docker = str(tools.docker_engine(repo))
    return run.run([docker, "rm", "--force", server.container], check=False, timeout=60).returncode == 0
