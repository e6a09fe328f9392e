"""Round-trip edits of overlays/<env>/kustomization.yaml: the images pin, comments and order kept.

An overlay pins the app image as `newName: <registry>/tasknote` and `newTag: "<version>@sha256:<digest>"`:
the version is for humans, the digest is what the kubelet pulls. Promotion copies that exact pin
one environment up (dev → staging → prod), never skipping one. Files are written atomically
(gitops.core.files.atomic_write), so a reader sees the old file or the new one.
"""

from __future__ import annotations

import io
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from gitops.core import config
from gitops.core.errors import GitOpsError
from gitops.core.files import atomic_write
from gitops.core.imageref import check_digest, check_tag

KUSTOMIZATION = "kustomization.yaml"
NEW_TAG_RE = re.compile(r"^(?P<version>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})@(?P<digest>sha256:[0-9a-fA-F]*)$")


@dataclass(frozen=True)
class Pin:
    """What an overlay's images entry says about one image."""

    name: str
    new_name: str
    version: str
    digest: str

    @property
    def tag(self) -> str:
        return f"{self.version}@{self.digest}"

    @property
    def reference(self) -> str:
        return f"{self.new_name}:{self.tag}"

    def short(self) -> str:
        """`1.4.2@sha256:0123456789ab` for commit subjects and branch names."""
        return f"{self.version}@{self.digest[:19]}"


def parse_new_tag(value: str) -> tuple[str, str]:
    """`1.4.2@sha256:<64 hex>` → ("1.4.2", "sha256:…"); anything else is one sentence."""
    match = NEW_TAG_RE.match(value)
    if not match:
        raise GitOpsError(
            f"newTag {value!r} is not <version>@sha256:<digest>; pin the image with ./inv release.bump."
        )
    return check_tag(match["version"]), check_digest(match["digest"])


def kustomization_file(env: str, overlays: Path) -> Path:
    config.check_environment(env)
    return overlays / env / KUSTOMIZATION


def check_promotion(source: str, target: str) -> None:
    """Only one step up the ladder: dev → staging, staging → prod."""
    config.check_environment(source)
    config.check_environment(target)
    order = config.ENVIRONMENTS
    if order.index(target) != order.index(source) + 1:
        allowed = ", ".join(f"{a} → {b}" for a, b in itertools.pairwise(order))
        raise GitOpsError(f"cannot promote {source} → {target}; promote one step at a time ({allowed}).")


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long line
    return yaml


def _load(text: str, where: str) -> tuple[CommentedMap, YAML]:
    yaml = _yaml()
    try:
        _, indent, block_seq_indent = load_yaml_guess_indent(text)
        data = yaml.load(text)  # our own loader: it keeps quotes (the guesser's does not)
    except YAMLError as exc:
        raise GitOpsError(f"{where} is not valid YAML ({exc.__class__.__name__}); fix the file.") from None
    if not isinstance(data, CommentedMap):
        raise GitOpsError(f"{where} is not a kustomization mapping; fix the file.")
    # ruamel's guess gives the column of a sequence item's content (indent) and of its dash
    # (block_seq_indent); the mapping indent is their difference.
    sequence, offset = indent or 2, block_seq_indent or 0
    yaml.indent(mapping=max(sequence - offset, 2), sequence=sequence, offset=offset)
    return data, yaml


def _entry(data: CommentedMap, image: str) -> CommentedMap | None:
    images = data.get("images")
    if images is None:
        return None
    if not isinstance(images, CommentedSeq):
        raise GitOpsError("the kustomization's images: is not a list; fix the file.")
    for item in images:
        if isinstance(item, CommentedMap) and item.get("name") == image:
            return item
    return None


def read_pin(text: str, image: str, where: str = KUSTOMIZATION) -> Pin | None:
    """The pin for `image`, or None when the overlay has no images entry for it."""
    data, _ = _load(text, where)
    entry = _entry(data, image)
    if entry is None or "newTag" not in entry:
        return None
    version, digest = parse_new_tag(str(entry["newTag"]))
    return Pin(image, str(entry.get("newName") or image), version, digest)


def set_pin(text: str, pin: Pin, where: str = KUSTOMIZATION) -> str:
    """Return text with the images entry for pin.name set to pin; everything else stays as it was."""
    check_tag(pin.version)
    check_digest(pin.digest)
    data, yaml = _load(text, where)
    entry = _entry(data, pin.name)
    if entry is None:
        images = data.get("images")
        if images is None:
            images = CommentedSeq()
            data["images"] = images
        entry = CommentedMap()
        entry["name"] = pin.name
        images.append(entry)
    # Assign only what changes: re-assigning an equal scalar would move its end-of-line comment.
    if entry.get("newName") != pin.new_name:
        entry["newName"] = pin.new_name
    if entry.get("newTag") != pin.tag:
        entry["newTag"] = DoubleQuotedScalarString(pin.tag)
    entry.pop("digest", None)  # a separate digest: would override newTag's; ours carries it
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GitOpsError(f"{path} does not exist; create the overlay first.") from None


def write_file(path: Path, text: str) -> None:
    atomic_write(path, text.encode("utf-8"))

