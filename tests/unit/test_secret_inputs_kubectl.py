"""Differential: what we seal from an env file or a literal is what the pinned kubectl would put
in the Secret (`kubectl create secret generic --dry-run=client -o json`), key for key and byte for
byte, decrypted with the test decryptor. Inputs a user meets: trailing spaces, "=" in values,
quotes, comments, blank lines, BOM, CRLF, U+2028/U+0085/form feed, non-UTF-8.
"""

from __future__ import annotations

import os

import pytest
from gitops.core.errors import GitOpsError
from gitops.core.repo import Repo
from gitops.secrets import crypto, inputs, sealing
from support import kubectl_secrets
from support import sealing_testlib as lib
from support.checkout import this_repo

try:
    kubectl_secrets.kubectl()
except GitOpsError as exc:
    pytest.skip(f"the differential tests need the pinned kubectl (lock file): {exc}", allow_module_level=True)


@pytest.fixture(scope="module")
def pair():
    return crypto.generate_key_pair(key_size=2048)


@pytest.fixture
def repo(tmp_path, pair, monkeypatch) -> Repo:
    monkeypatch.setattr(sealing, "find_kubeseal", lambda repo: None)
    return Repo(lib.make_repo(tmp_path / "repo", pair[1]), this_repo().versions)


def sealed_values(repo, key, values: dict[str, bytes]) -> dict[str, bytes]:
    """Seal through the project's own entry point and decrypt the written SealedSecret."""
    sealing.seal("dev", "probe", values, repo=repo)
    [doc] = lib.sealed_docs(repo.root / "overlays" / "dev" / sealing.SEALED_FILE)
    return lib.unseal(key, doc)


def terminal(stdin: bytes = b"") -> inputs.Terminal:
    return inputs.Terminal(lambda: stdin, False, lambda key: b"", lambda text: None)


ENV_FILES = {
    "trailing spaces and tabs are kept": b"A=1  \nB=x\t\n",
    "= inside values": b"URL=postgresql://u:p@db:5432/app?sslmode=require&x=1\nEQ==\n",
    "quotes are kept verbatim": b"Q=\"quoted\"\nS='single'\nH=\"half\nE=\"\"\n",
    "comments": b"# a comment\n   # indented comment\nA=1 # not a comment\n#B=2\n",
    "blank and space-only lines": b"\n\n   \nA=1\n\t\n\n",
    "BOM on the first line": b"\xef\xbb\xbfA=1\nB=2\n",
    "CRLF line ends": b"A=1\r\nB=two words\r\n",
    "CR CR LF keeps one CR": b"A=1\r\r\n",
    "U+2028 is not a line break": "LS=a\u2028X=b\n".encode(),
    "U+0085, form feed and vertical tab are not line breaks": "N=a\u0085b\fc\vd\n".encode(),
    "leading Unicode spaces are trimmed": "\u3000A=1\n\u2028B=2\n\xa0C=3\n".encode(),
    "no final newline": b"A=1\nB=2",
    "empty value": b"EMPTY=\n",
    "UTF-8 values": "P=p\u00e4ss w\u00f6rd \u2603\n".encode(),
    "line without = takes the environment's value": b"FROM_ENV\nUNSET_VAR\n",
    "keys with dots and dashes": b"a.b-c_d=1\n.dot=2\n",
}

ENV = {"FROM_ENV": "value from the environment"}


@pytest.mark.parametrize("case", list(ENV_FILES))
def test_env_file_is_sealed_exactly_as_kubectl_reads_it(case, repo, pair, tmp_path, monkeypatch) -> None:
    content = ENV_FILES[case]
    env_file = tmp_path / "input.env"
    env_file.write_bytes(content)
    monkeypatch.setenv("FROM_ENV", ENV["FROM_ENV"])
    monkeypatch.delenv("UNSET_VAR", raising=False)
    theirs = kubectl_secrets.create_secret(["generic", "probe", f"--from-env-file={env_file}"], env=ENV)
    assert theirs.ok, theirs.error
    ours = inputs.collect(inputs.Sources(env_files=[str(env_file)]), terminal())
    assert sealed_values(repo, pair[0], ours) == theirs.data


REFUSED_BY_BOTH = {
    "non-UTF-8 byte": b"A=ok\nB=\xff\n",
    "a second BOM": b"\xef\xbb\xbf\xef\xbb\xbfA=1\n",
    "BOM on a later line": b"A=1\n\xef\xbb\xbfB=2\n",
    "control character that Go does not count as space": b"\x1cA=1\n",
    "key starting with a digit": b"1A=1\n",
    "space before =": b"A =1\n",
    "empty key": b"=value\n",
    "duplicate key": b"A=1\nA=2\n",
    "key '..x'": b"..x=1\n",
    "UTF-16 surrogate encoded in UTF-8": b"A=\xed\xa0\x80\n",
}


@pytest.mark.parametrize("case", list(REFUSED_BY_BOTH))
def test_what_kubectl_refuses_we_refuse_in_one_sentence(case, tmp_path) -> None:
    env_file = tmp_path / "input.env"
    env_file.write_bytes(REFUSED_BY_BOTH[case])
    theirs = kubectl_secrets.create_secret(["generic", "probe", f"--from-env-file={env_file}"])
    assert not theirs.ok
    with pytest.raises(GitOpsError) as err:
        inputs.collect(inputs.Sources(env_files=[str(env_file)]), terminal())
    message = str(err.value)
    assert "\n" not in message and str(env_file) in message


def test_a_line_kubectl_silently_drops_is_refused(tmp_path) -> None:
    """kubectl's bufio.Scanner gives up at a line over 64 KiB and seals only the keys before it."""
    env_file = tmp_path / "input.env"
    env_file.write_bytes(b"A=1\nBIG=" + b"x" * 70000 + b"\nC=3\n")
    theirs = kubectl_secrets.create_secret(["generic", "probe", f"--from-env-file={env_file}"])
    assert theirs.ok and theirs.data == {"A": b"1"}  # BIG and C lost without a word
    with pytest.raises(GitOpsError, match="line 2 is longer than 65535 bytes"):
        inputs.collect(inputs.Sources(env_files=[str(env_file)]), terminal())
    env_file.write_bytes(b"A=1\nBIG=" + b"x" * 65531 + b"\n")  # exactly at the limit: both keep it
    theirs = kubectl_secrets.create_secret(["generic", "probe", f"--from-env-file={env_file}"])
    ours = inputs.collect(inputs.Sources(env_files=[str(env_file)]), terminal())
    assert theirs.data == ours and len(ours["BIG"]) == 65531


LITERALS = {
    "= inside the value": b"K=a=b==",
    "single quotes kept": b"K='quoted'",
    "double quotes kept": b'K="quoted"',
    "spaces kept": b"K=  padded  ",
    "empty value": b"K=",
    "U+2028 inside": "K=a\u2028b".encode(),
    "non-UTF-8 bytes": b"K=\xff\xfe raw",
    "key starting with a digit is fine for literals": b"1K=v",
}


@pytest.mark.parametrize("case", list(LITERALS))
def test_literal_is_sealed_exactly_as_kubectl_reads_it(case, repo, pair) -> None:
    literal = LITERALS[case]
    theirs = kubectl_secrets.create_secret([b"generic", b"probe", b"--from-literal=" + literal])
    assert theirs.ok, theirs.error
    warnings: list[str] = []
    term = inputs.Terminal(lambda: b"", False, lambda key: b"", warnings.append)
    # Python hands argv to us decoded with surrogateescape; fsdecode does the same here.
    ours = inputs.collect(inputs.Sources(literals=[os.fsdecode(literal)]), term)
    assert sealed_values(repo, pair[0], ours) == theirs.data
    assert warnings == [inputs.LITERAL_WARNING]


def test_file_sources_carry_binary_bytes_like_kubectl(repo, pair, tmp_path) -> None:
    blob = bytes(range(256)) * 4
    (tmp_path / "keystore.p12").write_bytes(blob)
    (tmp_path / "ca.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\r\nx\r\n")
    sources = [f"store={tmp_path / 'keystore.p12'}", str(tmp_path / "ca.crt")]
    theirs = kubectl_secrets.create_secret(["generic", "probe", *(f"--from-file={s}" for s in sources)])
    ours = inputs.collect(inputs.Sources(files=sources), terminal())
    assert theirs.ok and sealed_values(repo, pair[0], ours) == theirs.data == {
        "store": blob, "ca.crt": b"-----BEGIN CERTIFICATE-----\r\nx\r\n"}


def test_several_env_files_combine_like_kubectl(repo, pair, tmp_path) -> None:
    (tmp_path / "a.env").write_bytes(b"A=1\nSHARED_URL=x=y\n")
    (tmp_path / "b.env").write_bytes(b"\xef\xbb\xbfB=2 \r\n")
    files = [str(tmp_path / "a.env"), str(tmp_path / "b.env")]
    args = ["generic", "probe", *(f"--from-env-file={f}" for f in files)]
    theirs = kubectl_secrets.create_secret(args)
    ours = inputs.collect(inputs.Sources(env_files=files), terminal())
    assert theirs.ok and sealed_values(repo, pair[0], ours) == theirs.data
    (tmp_path / "b.env").write_bytes(b"A=again\n")  # a key in two files: both refuse
    assert not kubectl_secrets.create_secret(args).ok
    with pytest.raises(GitOpsError, match="is given twice"):
        inputs.collect(inputs.Sources(env_files=files), terminal())
