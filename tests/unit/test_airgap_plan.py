"""Planning the air-gapped build: content hashes, skip/rebuild, and the one-sentence errors."""

from pathlib import Path

import pytest
from gitops.core.errors import GitOpsError
from gitops.images import airgap
from support.checkout import ROOT, this_repo

SPEC = {
    "base_images": {
        "images": {
            # Listed out of order on purpose: bases must still come first.
            "redis:8-trixie": {"suite": "trixie", "context": "redis", "from": "debian:trixie-slim"},
            "debian:trixie-slim": {"suite": "trixie", "context": "debian"},
        }
    }
}


@pytest.fixture
def contexts(tmp_path: Path) -> Path:
    (tmp_path / "debian/rootfs/usr/sbin").mkdir(parents=True)
    (tmp_path / "debian/rootfs/usr/sbin/policy-rc.d").write_text("#!/bin/sh\nexit 101\n")
    (tmp_path / "redis").mkdir()
    (tmp_path / "redis/Dockerfile").write_text("FROM debian:trixie-slim\nRUN apt-get install redis\n")
    (tmp_path / "redis/docker-entrypoint.sh").write_text("#!/bin/sh\nexec \"$@\"\n")
    return tmp_path


def hashes(contexts: Path) -> dict[str, str]:
    images = airgap.images_from(SPEC, contexts)
    return airgap.wanted_hashes(images, {i.ref: airgap.context_digest(i.context) for i in images})


def labelled(want: dict[str, str]) -> dict[str, airgap.Present]:
    return {ref: airgap.Present(f"sha256:{n}", {airgap.LABEL: "true", airgap.HASH_LABEL: h})
            for n, (ref, h) in enumerate(want.items())}


def test_images_come_in_build_order(contexts: Path) -> None:
    images = airgap.images_from(SPEC, contexts)
    assert [i.ref for i in images] == ["debian:trixie-slim", "redis:8-trixie"]
    assert images[0].debootstrapped and not images[1].debootstrapped


def test_present_and_matching_images_are_skipped(contexts: Path) -> None:
    images = airgap.images_from(SPEC, contexts)
    want = hashes(contexts)
    steps = airgap.plan(images, want, labelled(want))
    assert [(s.action, s.reason) for s in steps] == [("skip", "up to date")] * 2


def test_a_changed_dockerfile_rebuilds_only_that_image(contexts: Path) -> None:
    images = airgap.images_from(SPEC, contexts)
    before = hashes(contexts)
    (contexts / "redis/Dockerfile").write_text("FROM debian:trixie-slim\nRUN apt-get install redis-server\n")
    after = hashes(contexts)
    steps = airgap.plan(images, after, labelled(before))
    assert [(s.ref, s.action) for s in steps] == [("debian:trixie-slim", "skip"), ("redis:8-trixie", "build")]
    assert steps[1].reason == "build inputs changed"


def test_an_executable_bit_counts_as_an_input(contexts: Path) -> None:
    before = hashes(contexts)
    (contexts / "redis/docker-entrypoint.sh").chmod(0o755)
    assert hashes(contexts)["redis:8-trixie"] != before["redis:8-trixie"]


def test_a_changed_base_rebuilds_everything_built_from_it(contexts: Path) -> None:
    images = airgap.images_from(SPEC, contexts)
    before = hashes(contexts)
    (contexts / "debian/rootfs/etc").mkdir()
    (contexts / "debian/rootfs/etc/motd").write_text("air-gapped\n")
    after = hashes(contexts)
    steps = airgap.plan(images, after, labelled(before))
    assert [s.action for s in steps] == ["build", "build"]


def test_missing_foreign_and_forced(contexts: Path) -> None:
    images = airgap.images_from(SPEC, contexts)
    want = hashes(contexts)
    pulled = {"debian:trixie-slim": airgap.Present("sha256:1", {"org.opencontainers.image.version": "13"})}
    steps = airgap.plan(images, want, pulled)
    assert [(s.action, s.reason) for s in steps] == [
        ("build", "present but not built by images.airgap"), ("build", "missing")]
    forced = airgap.plan(images, want, labelled(want), force=True)
    assert {s.action for s in forced} == {"build"}


def test_only_builds_the_selection_and_the_bases_it_lacks(contexts: Path) -> None:
    images = airgap.images_from(SPEC, contexts)
    want = hashes(contexts)
    both = labelled(want)
    forced = airgap.plan(images, want, both, force=True, only=["redis:8-trixie"])
    assert [(s.action, s.reason) for s in forced] == [("skip", "up to date"), ("build", "forced")]
    no_base = {"redis:8-trixie": both["redis:8-trixie"]}
    steps = airgap.plan(images, want, no_base, only=["redis:8-trixie"])
    assert [s.action for s in steps] == ["build", "skip"]
    left_alone = airgap.plan(images, want, {}, only=["debian:trixie-slim"])
    assert [(s.action, s.reason) for s in left_alone] == [("build", "missing"), ("skip", "not selected")]


def test_inspect_output_maps_ids_and_labels_to_references() -> None:
    stdout = (
        'sha256:aa\t["debian:trixie-slim"]\t{"org.tasknote.airgap":"true","org.tasknote.airgap.inputs":"ab"}\n'
        'sha256:bb\t["registry:2","localhost:5000/registry:2"]\t{"org.tasknote.airgap":"true"}\n'
        'sha256:cc\t["other:1"]\tnull\n'
    )
    present = airgap.parse_inspect(stdout, ["debian:trixie-slim", "registry:2", "redis:8-trixie"])
    assert present == {
        "debian:trixie-slim": airgap.Present(
            "sha256:aa", {"org.tasknote.airgap": "true", "org.tasknote.airgap.inputs": "ab"}),
        "registry:2": airgap.Present("sha256:bb", {"org.tasknote.airgap": "true"}),
    }


def test_the_repository_spec_has_the_six_contract_references() -> None:
    images = airgap.images_from(this_repo().versions, ROOT / "airgap")
    assert {i.ref for i in images} == {
        "debian:trixie-slim", "python:3.13-slim-trixie", "gcr.io/distroless/python3-debian13:nonroot",
        "postgres:17-trixie", "redis:8-trixie", "registry:2"}
    assert all(i.context.is_dir() for i in images)
    assert all((i.context / "Dockerfile").is_file() for i in images if not i.debootstrapped)
    for image in images:
        if not image.debootstrapped:
            dockerfile = (image.context / "Dockerfile").read_text()
            assert "# syntax=" not in dockerfile  # it would pull a frontend image
            assert dockerfile.count("FROM debian:trixie-slim") >= 1


def test_unknown_base_and_cycles_are_one_sentence(contexts: Path) -> None:
    broken = {"base_images": {"images": {"x:1": {"suite": "trixie", "context": "x", "from": "nope:1"}}}}
    with pytest.raises(GitOpsError, match=r"built from nope:1, which is not in base_images\.images"):
        airgap.images_from(broken, contexts)
    cycle = {"base_images": {"images": {
        "a:1": {"suite": "trixie", "context": "a", "from": "b:1"},
        "b:1": {"suite": "trixie", "context": "b", "from": "a:1"}}}}
    with pytest.raises(GitOpsError, match="cycle"):
        airgap.images_from(cycle, contexts)
    with pytest.raises(GitOpsError, match=r"no base_images\.images"):
        airgap.images_from({}, contexts)


def test_missing_debootstrap_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(airgap, "DEBOOTSTRAP_FALLBACKS", ())
    with pytest.raises(GitOpsError) as info:
        airgap.require_debootstrap(which=lambda name: None, euid=lambda: 0)
    message = str(info.value)
    assert "debootstrap is not installed" in message and "apt-get install debootstrap" in message
    assert "\n" not in message


def test_debootstrap_needs_root() -> None:
    with pytest.raises(GitOpsError, match=r"must run as root.*sudo \./inv images\.airgap"):
        airgap.require_debootstrap(which=lambda name: "/usr/sbin/debootstrap", euid=lambda: 1000)
    assert str(airgap.require_debootstrap(which=lambda name: "/usr/sbin/debootstrap", euid=lambda: 0)) \
        == "/usr/sbin/debootstrap"


def test_missing_docker_stops_before_any_build(monkeypatch: pytest.MonkeyPatch) -> None:
    # The boundary faked here is only "is docker on PATH": tools.require's real check runs.
    monkeypatch.setattr(airgap.tools, "locate", lambda name: None)
    with pytest.raises(GitOpsError) as info:
        airgap.ensure(this_repo(), progress=lambda line: None)
    message = str(info.value)
    assert message.startswith("docker is not installed; docker >= ") and "\n" not in message


def test_leftover_mounts_are_found_deepest_first(tmp_path: Path) -> None:
    work = tmp_path / "airgap debian"
    mountinfo = (
        "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
        f"90 27 0:50 / {str(work).replace(' ', chr(92) + '040')}/rootfs/proc rw - proc proc rw\n"
        f"91 27 0:51 / {str(work).replace(' ', chr(92) + '040')}/rootfs/sys rw - sysfs sysfs rw\n"
        f"92 91 0:52 / {str(work).replace(' ', chr(92) + '040')}/rootfs/sys/fs/cgroup rw - cgroup2 c rw\n"
        f"93 27 0:53 / {str(work).replace(' ', chr(92) + '040')}-other/proc rw - proc proc rw\n"
    )
    assert airgap.mounts_below(mountinfo, work) == [
        f"{work}/rootfs/sys/fs/cgroup", f"{work}/rootfs/proc", f"{work}/rootfs/sys"]


def test_trim_drops_docs_and_caches_but_keeps_copyright(tmp_path: Path) -> None:
    root = tmp_path
    for rel in ("usr/share/doc/bash/README", "usr/share/doc/bash/copyright", "usr/share/man/man1/ls.1.gz",
                "usr/share/locale/de/LC_MESSAGES/dpkg.mo", "usr/share/locale/locale.alias",
                "var/lib/apt/lists/deb.debian.org_dists_trixie_InRelease", "var/cache/apt/pkgcache.bin",
                "var/log/bootstrap.log", "etc/hostname", "etc/resolv.conf", "etc/passwd"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    airgap.trim(root)
    left = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert left == ["etc/passwd", "usr/share/doc/bash/copyright", "usr/share/locale/locale.alias"]
    assert (root / "var/lib/apt/lists/partial").is_dir() and (root / "var/log").is_dir()


def test_forced_builds_skip_buildkits_cache_and_carry_both_labels(contexts: Path) -> None:
    redis = airgap.images_from(SPEC, contexts)[1]
    argv = airgap.build_argv(Path("/usr/bin/docker"), redis, "f" * 64, no_cache=True)
    assert argv[:3] == ["/usr/bin/docker", "buildx", "build"] and "--no-cache" in argv
    assert argv[argv.index("--tag") + 1] == "redis:8-trixie" and argv[-1] == str(contexts / "redis")
    labels = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--label"]
    assert labels == ["org.tasknote.airgap=true", "org.tasknote.airgap.inputs=" + "f" * 64]
    assert "--no-cache" not in airgap.build_argv(Path("docker"), redis, "f" * 64, no_cache=False)
