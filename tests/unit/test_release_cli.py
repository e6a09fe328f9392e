"""The release tasks from the command line: bad input is one `error:` line and exit code 1."""

from __future__ import annotations

import sys

import pytest
from gitops.core import run
from support.checkout import ROOT


@pytest.mark.parametrize(("argv", "message"), [
    (["release.bump", "--env", "qa", "--tag", "1.0"],
     "error: unknown environment 'qa'; use one of dev, staging, prod."),
    (["release.bump", "--env", "dev", "--image", "nginx", "--tag", "1.0"],
     "error: unknown image 'nginx'; the overlays pin tasknote."),
    (["release.bump", "--env", "dev", "--tag", "1.0@sha256:x"],
     "error: '1.0@sha256:x' is not a valid image tag"),
    (["release.promote", "--from", "dev", "--to", "prod"],
     "error: cannot promote dev → prod; promote one step"),
    (["release.promote", "--from", "dev", "--to", "staging", "--digest", "sha256:12"],
     "error: 'sha256:12' is not a sha256 digest"),
])
def test_bad_input_is_one_error_line_and_exit_1(argv: list[str], message: str) -> None:
    before = run.run(["git", "status", "--porcelain"], cwd=ROOT).stdout
    result = run.run([sys.executable, "-m", "invoke", *argv], cwd=ROOT, check=False, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr
    assert run.run(["git", "status", "--porcelain"], cwd=ROOT).stdout == before
