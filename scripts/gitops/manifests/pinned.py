"""Every pin versions.yaml holds, with where it is written: what the Renovate coverage test
(tests/unit/test_renovate.py) checks a manager for. Data-driven: a new entry is a pin by its key
(version, url, sha256, digest, image, node_image, ref, pypi, package, install) wherever it sits,
so the pins other issues add (a git server image, cert-manager, tool URLs) are checked without
touching this list. The few values that are not pins of something upstream are excluded by
path, each with its reason; `app_version` is not a pin key: it records what a chart version
ships, and nothing reads it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass

import yaml

PIN_KEYS = frozenset({"version", "url", "sha256", "digest", "image", "node_image", "ref", "pypi", "package",
                      "install"})
# path glob -> why it is not a pin of an upstream release
NOT_PINS = {
    "repository.*": "this repository's own URL and branch, not an upstream release",
    "base_images.mirror.*": "a Debian mirror address; the suite is a release name, not a version",
    "tools.docker.*": "the oldest Docker Engine the user's own engine may be, not something installed by us",
}
IMAGE_SECTIONS = ("base_images.images",)  # mappings whose keys are image references


@dataclass(frozen=True)
class Pin:
    path: str  # dotted key path, e.g. tools.kind.sha256; "<section>[<key>]" for an image key
    key: str  # the key the value sits under (or "image-key")
    value: str
    start: int  # character offsets of the value in versions.yaml
    end: int


def excluded(path: str) -> str:
    """Why a path is not a pin ("" when it is one)."""
    return next((why for pattern, why in NOT_PINS.items() if fnmatch.fnmatchcase(path, pattern)), "")


def _walk(node: yaml.Node, path: str) -> Iterator[Pin]:
    if not isinstance(node, yaml.MappingNode):
        return
    for key_node, value_node in node.value:
        key = str(key_node.value)
        here = f"{path}.{key}" if path else key
        if path in IMAGE_SECTIONS:
            yield Pin(f"{path}[{key}]", "image-key", key, key_node.start_mark.index, key_node.end_mark.index)
        if isinstance(value_node, yaml.ScalarNode):
            is_pin = key in PIN_KEYS or (path.startswith(IMAGE_SECTIONS) and key == "from")
            if is_pin and not excluded(here):
                start, end = value_node.start_mark.index, value_node.end_mark.index
                yield Pin(here, key, str(value_node.value), start, end)
        else:
            yield from _walk(value_node, here)


def pins_of(text: str) -> list[Pin]:
    """Every pin of a versions.yaml text, in file order."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    return list(_walk(root, "")) if root is not None else []
