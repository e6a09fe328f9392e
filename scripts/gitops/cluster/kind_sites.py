"""The names one local kind set-up owns: cluster, registry and Git server containers, host port.

Two exist. The developer's (`tasknote`, what `./inv bootstrap` creates and keeps) and the
conformance run's own (`tasknote-conformance`), which `./inv conformance` creates and deletes
and which shares no name or host port with the first, so a nightly or a local conformance run
can never reuse or delete the developer's cluster. Inside the nodes both registries answer to
the same name, localhost:5001 (each cluster's containerd hosts.toml points that name at its own
registry container), so the manifests' image references are the same for both; only the
host-side port used for pushing differs.

kind puts every cluster on one Docker network named `kind`, so container names, not networks,
keep the two apart (kind docs, "Local Registry": the registry joins the `kind` network;
https://kind.sigs.k8s.io/docs/user/local-registry/).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from gitops.core.errors import GitOpsError

NODE_REGISTRY_HOST = "localhost:5001"  # what image references in the manifests say


@dataclass(frozen=True)
class KindSite:
    cluster: str
    registry_container: str
    registry_port: int  # published on 127.0.0.1 for pushes from this machine
    git_container: str
    # The developer's cluster maps the ingress to the host's 80/443; a second cluster cannot
    # bind them again, and conformance reaches the app through port-forward anyway.
    host_ports: bool

    @property
    def context(self) -> str:
        return f"kind-{self.cluster}"

    @property
    def push_host(self) -> str:
        """Where this machine pushes (Docker treats localhost registries as plain HTTP)."""
        return f"localhost:{self.registry_port}"

    def names(self) -> set[str]:
        return {self.cluster, self.registry_container, self.git_container}


DEVELOPER = KindSite("tasknote", "tasknote-kind-registry", 5001, "tasknote-kind-git", host_ports=True)
CONFORMANCE = KindSite("tasknote-conformance", "tasknote-conformance-registry", 5002,
                       "tasknote-conformance-git", host_ports=False)


def site_for_context(context: str) -> KindSite:
    """The site a kubeconfig context belongs to (the e2e tier runs on either); the developer's
    for any other context."""
    return next((s for s in (CONFORMANCE, DEVELOPER) if s.context == context), DEVELOPER)


def check_disposable(site: KindSite) -> KindSite:
    """A site conformance may create and delete: nothing it owns is the developer's."""
    shared = site.names() & DEVELOPER.names()
    if shared or site.registry_port == DEVELOPER.registry_port:
        what = ", ".join(sorted(shared)) or f"port {site.registry_port}"
        raise GitOpsError(f"conformance must not touch the developer's kind set-up ({what}); "
                          "give it its own names.")
    return site


def kind_config(text: str, site: KindSite) -> str:
    """clusters/kind/kind-config.yaml for this site: as written, minus host port mappings when
    the site must not bind the host's 80/443 (a second cluster beside the developer's)."""
    config: dict[str, Any] = yaml.safe_load(text)
    if not site.host_ports:
        for node in config.get("nodes") or []:
            node.pop("extraPortMappings", None)
    return yaml.safe_dump(config, sort_keys=False)
