"""invoke tasks of the `manifests` namespace: thin wrappers that parse arguments and call one function."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke.collection import Collection

from gitops.core.errors import GitOpsError
from gitops.tasks._task import task

if TYPE_CHECKING:
    from gitops.manifests import checks

# Domain modules (jsonschema, the schemas) are imported inside each task: `./inv --list` and every
# other namespace should not pay for them, and the check's wall time is what bench/ measures.

TARGET_HELP = ("one target: overlays/<env>, argocd/clusters/<cluster>, or just dev/staging/prod/kind/k3s "
               "(default: all)")
ROOT_HELP = "check another checkout (default: $TASKNOTE_ROOT or this repository)"
FORMAT_HELP = "text (default) or json"
CACHE_HELP = "use the render cache under .cache/render (default: on; --no-cache renders afresh)"


def finish(report: checks.Report, fmt: str) -> None:
    print(report.as_json() if fmt == "json" else "\n".join(report.lines()))
    if not report.ok:
        raise GitOpsError(report.summary_error())


@task(help={"target": TARGET_HELP, "out": "write the YAML to this file instead of printing it",
            "root": ROOT_HELP, "cache": CACHE_HELP})
def render_(c: Any, target: str = "", out: str = "", root: str = "", cache: bool = True) -> None:
    """Print (or write) the objects `kubectl kustomize` renders for a target, or for all of them."""
    from gitops.core.files import atomic_write
    from gitops.core.repo import Repo
    from gitops.manifests import checks, render

    results = checks.rendered(Repo.chosen(root), target, cache)
    if out and len(results) != 1:
        raise GitOpsError("--out needs exactly one --target; name one of them.")
    text = "".join(
        (f"# target: {r.target.name}\n" if len(results) > 1 else "") + render.to_yaml(r.docs)
        for r in results
    )
    if out:
        atomic_write(Path(out), text.encode())
    else:
        print(text, end="")


@task(help={"target": TARGET_HELP, "format": FORMAT_HELP, "root": ROOT_HELP, "cache": CACHE_HELP})
def validate(c: Any, target: str = "", format: str = "text", root: str = "", cache: bool = True) -> None:
    """Validate every rendered object against the Kubernetes and CRD schemas (unknown kinds fail)."""
    from gitops.core.repo import Repo
    from gitops.manifests import checks

    fmt = checks.check_format(format)
    finish(checks.run(Repo.chosen(root), target, rules=False, use_cache=cache), fmt)


@task(help={"target": TARGET_HELP, "format": FORMAT_HELP, "root": ROOT_HELP, "cache": CACHE_HELP,
            "list_rules": "print the rules (id, severity, name, reason, fix) and stop"})
def policy(c: Any, target: str = "", format: str = "text", root: str = "", cache: bool = True,
           list_rules: bool = False) -> None:
    """Apply the policy rules (TN001...) to every rendered object; errors exit non-zero."""
    from gitops.core.repo import Repo
    from gitops.manifests import checks
    from gitops.manifests.policy.rules import RULES

    if list_rules:
        for rule in RULES:
            print(f"{rule.id} {rule.severity:7} {rule.name}: {rule.rationale}\n        fix: {rule.fix}")
        return
    fmt = checks.check_format(format)
    finish(checks.run(Repo.chosen(root), target, schemas=False, use_cache=cache), fmt)


@task(help={"target": TARGET_HELP, "format": FORMAT_HELP, "root": ROOT_HELP, "cache": CACHE_HELP})
def check(c: Any, target: str = "", format: str = "text", root: str = "", cache: bool = True) -> None:
    """Render, validate and policy-check every overlay and cluster root (what CI and conformance run;
    manifests.pins checks the pins)."""
    from gitops.core.repo import Repo
    from gitops.manifests import checks

    fmt = checks.check_format(format)
    finish(checks.run(Repo.chosen(root), target, use_cache=cache), fmt)


@task(help={"format": FORMAT_HELP, "root": ROOT_HELP})
def pins(c: Any, format: str = "text", root: str = "") -> None:
    """Compare every pinned version (lock files, Dockerfiles, compose, manifests, Argo CD, kind,
    workflows, schemas) with versions.yaml, the one source."""
    from gitops.core.repo import Repo
    from gitops.manifests import checks

    finish(checks.pin_report(Repo.chosen(root)), checks.check_format(format))


@task(help={"url": "the Git URL your fork is cloned from, e.g. https://github.com/you/tasknote-gitops.git",
            "root": ROOT_HELP})
def set_repo(c: Any, url: str, root: str = "") -> None:
    """Point versions.yaml and every Argo CD object at your fork's URL (commit and push the result)."""
    from gitops.core.repo import Repo
    from gitops.manifests import repo_url

    changed = repo_url.retarget(Repo.chosen(root).root, url)
    for path in changed:
        print(f"updated {path}")
    print("already pointing there; nothing changed" if not changed else
          "commit and push these files: Argo CD reads the repository from that URL")


@task(help={"group": "the CRD group to refresh, e.g. bitnami.com (default: every vendored group)",
            "add": "also vendor this upstream file (its path in the group's repository) and record it",
            "repo": "https://github.com/<owner>/<name> of a group not vendored yet (with --add)",
            "from_file": "vendor this local copy of the --add file instead of downloading (no GitHub here)",
            "fetched_from": "with --from-file: the tag or commit the copy was taken at (recorded)",
            "root": ROOT_HELP})
def crds_refresh(c: Any, group: str = "", add: str = "", repo: str = "", from_file: str = "",
                 fetched_from: str = "", root: str = "") -> None:
    """Download the vendored CRD files of the pinned releases from GitHub (needs internet)."""
    from gitops.core.repo import Repo
    from gitops.manifests import crds, crds_refresh

    checkout = Repo.chosen(root)
    chosen, versions = checkout.root, checkout.versions
    groups = [group] if group else [g.group for g in crds.groups(chosen)]
    if (add or from_file) and len(groups) != 1:
        raise GitOpsError("--add needs exactly one --group; name the group the file belongs to.")
    if from_file:
        written = crds_refresh.vendor_file(chosen, versions, groups[0], add, Path(from_file), fetched_from,
                                           repo)
    else:
        written = crds_refresh.refresh(chosen, versions, groups, add=add, repo=repo)
    for path in written:
        print(f"wrote {path.relative_to(chosen)}")
    print("run ./inv manifests.check and commit schemas/upstream with the pin")


ns = Collection("manifests")
ns.add_task(render_, name="render")
ns.add_task(validate)
ns.add_task(policy)
ns.add_task(check)
ns.add_task(pins)
ns.add_task(set_repo)
ns.add_task(crds_refresh, name="crds-refresh")
