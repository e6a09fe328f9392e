"""secrets.seal's inputs on the command line: values never need argv (value-less --from-literal
KEY is prompted for without echo, or read from piped stdin), KEY=VALUE still works with a
one-line warning, and the typed Secrets are read from their own options."""

from __future__ import annotations

import hashlib
import io
import os
import pty
import re
import select
import sys

import pytest
from gitops.core.errors import GitOpsError
from gitops.secrets import crypto, inputs, sealing, secret_types
from gitops.tasks import secrets as secrets_tasks
from invoke.exceptions import Exit
from support import sealing_testlib as lib
from support.checkout import ROOT

PASSWORD = "typed-at-the-prompt-7c1e"  # pragma: allowlist secret


def piped(data: bytes) -> inputs.Terminal:
    return inputs.Terminal(lambda: data, False, lambda key: pytest.fail("no prompt when piped"),
                                 lambda text: pytest.fail(f"unexpected warning {text}"))


def test_value_less_keys_take_one_piped_line_each() -> None:
    sources = inputs.Sources(literals=["USER", "PASSWORD"])
    values = inputs.collect(sources, piped(b"app\r\np@ss word \n"))
    assert values == {"USER": b"app", "PASSWORD": b"p@ss word "}
    with pytest.raises(GitOpsError, match="stdin ended before the value of PASSWORD"):
        inputs.collect(sources, piped(b"app\n"))
    with pytest.raises(GitOpsError, match="stdin holds 3 lines for 2"):
        inputs.collect(sources, piped(b"a\nb\nc\n"))
    with pytest.raises(GitOpsError, match="both read piped stdin"):
        inputs.collect(inputs.Sources(literals=["A"], stdin_env=True), piped(b"x\n"))


def test_a_value_on_the_command_line_warns_once() -> None:
    warnings: list[str] = []
    term = inputs.Terminal(lambda: b"", False, lambda key: b"", warnings.append)
    values = inputs.collect(inputs.Sources(literals=["A=1", "B=2"]), term)
    assert values == {"A": b"1", "B": b"2"}
    assert warnings == [inputs.LITERAL_WARNING] and "\n" not in warnings[0]


def test_hidden_prompt_asks_twice_and_refuses_a_mismatch() -> None:
    answers = iter(["one", "one"])
    assert inputs.hidden_prompt("K", lambda prompt: next(answers)) == b"one"
    answers = iter(["one", "two"])
    with pytest.raises(GitOpsError, match="the two values typed for K differ"):
        inputs.hidden_prompt("K", lambda prompt: next(answers))


PROMPT_PROGRAM = """
import hashlib
from gitops.secrets import inputs
from gitops.tasks.secrets import terminal
values = inputs.collect(inputs.Sources(literals=["TOKEN"]), terminal())
print("sha256", hashlib.sha256(values["TOKEN"]).hexdigest())
"""


def test_the_prompt_on_a_real_terminal_does_not_echo() -> None:
    """Runs the task's own terminal() under a pseudo-terminal and types the value twice."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session with the pty as its controlling terminal
        os.execv(sys.executable, [sys.executable, "-c", PROMPT_PROGRAM])  # noqa: S606 - argv, no shell
    transcript = b""
    typed = 0
    while True:
        ready, _, _ = select.select([fd], [], [], 30)
        if not ready:
            os.kill(pid, 9)
            pytest.fail(f"the prompt did not appear: {transcript!r}")
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        transcript += chunk
        if transcript.count(b"TOKEN") > typed and typed < 2:
            typed += 1
            os.write(fd, PASSWORD.encode() + b"\n")
    os.waitpid(pid, 0)
    assert typed == 2, transcript
    assert PASSWORD.encode() not in transcript  # echo was off for both answers
    assert f"sha256 {hashlib.sha256(PASSWORD.encode()).hexdigest()}".encode() in transcript


# --- the seal task, end to end on a scratch repository ------------------------------------


@pytest.fixture(scope="module")
def pair():
    return crypto.generate_key_pair(key_size=2048)


@pytest.fixture
def repo(tmp_path, pair, monkeypatch):
    root = lib.make_repo(tmp_path / "repo", pair[1])
    # A checkout's markers, so the task's Repo.discover() finds this copy from its working directory.
    (root / "versions.yaml").write_bytes((ROOT / "versions.yaml").read_bytes())
    (root / "tasks.py").write_text("")
    monkeypatch.setattr(sealing, "find_kubeseal", lambda repo: None)
    monkeypatch.chdir(root)
    return root


class PipedStdin(io.TextIOWrapper):
    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))

    def isatty(self) -> bool:
        return False


def opened(repo, key) -> tuple[dict, dict[str, bytes]]:
    [doc] = lib.sealed_docs(repo / "overlays" / "dev" / sealing.SEALED_FILE)
    return doc, lib.unseal(key, doc)


def test_task_seals_a_docker_registry_secret_with_the_password_from_stdin(repo, pair, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", PipedStdin(b"ghp_piped-token\n"))
    secrets_tasks.seal.body(None, env="dev", name="ghcr-pull", type="docker-registry",
                            docker_server="ghcr.io", docker_username="robot")
    doc, values = opened(repo, pair[0])
    assert doc["spec"]["template"]["type"] == "kubernetes.io/dockerconfigjson"
    assert values == secret_types.docker_config_json("ghcr.io", b"robot", b"ghp_piped-token")


def test_task_takes_binary_files_and_piped_literals(repo, pair, monkeypatch, tmp_path) -> None:
    (tmp_path / "blob").write_bytes(b"\x00\xff\x10binary")
    monkeypatch.setattr(sys, "stdin", PipedStdin(b"s3cret\n"))
    secrets_tasks.seal.body(None, env="dev", name="mixed", from_literal=["TOKEN"],
                            from_file=[f"blob={tmp_path / 'blob'}"])
    _, values = opened(repo, pair[0])
    assert values == {"TOKEN": b"s3cret", "blob": b"\x00\xff\x10binary"}


def test_task_seals_a_tls_secret_from_its_files(repo, pair, monkeypatch, tmp_path) -> None:
    from cryptography.hazmat.primitives import serialization

    key, cert = crypto.generate_key_pair(key_size=2048)  # any RSA pair with its certificate
    (tmp_path / "tls.crt").write_bytes(crypto.cert_pem(cert))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    (tmp_path / "tls.key").write_bytes(key_pem)
    monkeypatch.setattr(sys, "stdin", PipedStdin(b""))
    secrets_tasks.seal.body(None, env="dev", name="tasknote-tls", type="tls",
                            cert=str(tmp_path / "tls.crt"), key=str(tmp_path / "tls.key"))
    doc, values = opened(repo, pair[0])
    assert doc["spec"]["template"]["type"] == "kubernetes.io/tls"
    assert values == {"tls.crt": crypto.cert_pem(cert), "tls.key": key_pem}


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"type": "tls", "from_literal": ["A=1"]}, "--from-literal does not apply to a kubernetes.io/tls"),
        ({"type": "tls", "cert": "/nonexistent.crt", "key": "/x.key"}, "cannot read /nonexistent.crt"),
        ({"type": "tls", "key": "k.pem"}, "a TLS Secret needs --cert"),
        ({"type": "bootstrap-token"}, "unknown Secret type 'bootstrap-token'"),
        ({"name": "Bad_Name", "from_literal": ["A"]}, "not a valid Kubernetes name"),
    ],
)
def test_task_bad_options_are_one_sentence_and_change_nothing(repo, monkeypatch, kwargs, expected) -> None:
    monkeypatch.setattr(sys, "stdin", PipedStdin(b""))
    before = lib.checksums(repo)
    args = {"env": "dev", "name": "x", **kwargs}
    with pytest.raises(Exit) as err:  # the task layer turns GitOpsError into exit 1 and one line
        secrets_tasks.seal.body(None, **args)
    assert err.value.code == 1
    assert expected in err.value.message and "\n" not in err.value.message
    assert lib.checksums(repo) == before


def test_the_readme_never_puts_a_value_on_the_command_line() -> None:
    """Every `--from-literal KEY=VALUE` in the README is the sentence that warns against it."""
    readme = (ROOT / "README.md").read_text()
    assert "--from-literal TOKEN" in readme
    uses = [m.start() for m in re.finditer(r"--from-literal[ =][A-Za-z0-9_.-]+=", readme)]
    assert all("warning" in readme[at : at + 120] for at in uses), [readme[at : at + 60] for at in uses]
