"""Every task has a one-line help and documents every argument (invoke --list / --help)."""

import inspect

from gitops.tasks import namespace
from invoke import Collection


def all_tasks(coll: Collection, prefix: str = ""):
    for name, t in coll.tasks.items():
        yield prefix + name, t
    for sub_name, sub in coll.collections.items():
        yield from all_tasks(sub, prefix + sub_name + ".")


def test_every_namespace_of_the_design_exists() -> None:
    expected = {"cluster", "manifests", "secrets", "images", "release", "app", "stack"}
    assert expected <= set(namespace.collections)


def test_every_task_has_a_docstring_and_help_for_each_argument() -> None:
    tasks = list(all_tasks(namespace))
    assert tasks, "no tasks collected"
    for name, t in tasks:
        assert (t.__doc__ or "").strip(), f"{name} has no docstring"
        params = list(inspect.signature(t.body).parameters)[1:]
        for p in params:
            assert t.help.get(p.replace("_", "-")) or t.help.get(p), f"{name} --{p} has no help"
