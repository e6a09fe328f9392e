"""Every task has a one-line help and documents every argument (invoke --list / --help)."""

import contextlib
import inspect
import io
import re
import sys

import pytest
from gitops.core import run
from gitops.tasks import namespace
from invoke import Collection, Program
from support.checkout import ROOT


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


def listed_tasks() -> list[str]:
    """The task names `./inv --list` prints (its flat format: a name at the start of each entry)."""
    result = run.run([sys.executable, "-m", "invoke", "--list", "--list-format", "flat"], cwd=ROOT,
                     timeout=60)
    return re.findall(r"^  (\S+)", result.stdout, re.M)


def test_help_exits_zero_for_every_listed_task() -> None:
    """`./inv <task> --help` for each task `--list` shows; a positional argument once broke 12."""
    listed = listed_tasks()
    assert sorted(listed) == sorted(name for name, _ in all_tasks(namespace))
    for name in listed:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
            Program(namespace=namespace, binary="inv").run(["inv", name, "--help"])
        assert exited.value.code in (0, None), f"./inv {name} --help exited {exited.value.code}"
        assert f"inv [--core-opts] {name}" in out.getvalue(), out.getvalue()


def test_a_missing_required_option_is_one_sentence() -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exited:
        Program(namespace=namespace, binary="inv").run(["inv", "images.push"])
    assert exited.value.code == 1
    assert err.getvalue().strip().splitlines() == [
        "error: --version is required: give version tag to push (the git-<sha12> tag of the commit it was "
        "built from is pushed too)."]
