"""kubeseal and the native sealer are interchangeable: each side's output is read by the other.

kubeseal reads ours with `--recovery-unseal --recovery-private-key` (the upstream disaster-recovery
path), and our test-only decryptor reads what kubeseal sealed. Needs the pinned kubeseal; skipped
with one line when it is absent, except in the pull-request workflow, which downloads and
checksums it and sets TASKNOTE_REQUIRE_KUBESEAL so that a missing kubeseal fails instead.
"""

from __future__ import annotations

import base64
import json
import os

import pytest
from cryptography.hazmat.primitives import serialization
from gitops.core import run, tools
from gitops.core.errors import GitOpsError
from gitops.secrets import crypto, sealing
from support import sealing_testlib as lib
from support.checkout import this_repo

# Here the test only uses a kubeseal that is already installed: it must not reach for GitHub.
# The pull-request workflow downloads the pinned one first and sets TASKNOTE_REQUIRE_KUBESEAL.
try:
    KUBESEAL = tools.require("kubeseal", this_repo(), fetch=False)
except GitOpsError as exc:
    if os.environ.get("TASKNOTE_REQUIRE_KUBESEAL"):
        raise
    pytest.skip(f"kubeseal compatibility needs the pinned kubeseal: {exc}", allow_module_level=True)


VALUES = {"POSTGRES_PASSWORD": b"p@ss w\xc3\xb6rd", "DATABASE_URL": b"postgresql://a:b@tasknote-db:5432/x"}


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    key, cert = crypto.generate_key_pair(key_size=2048)
    where = tmp_path_factory.mktemp("kubeseal")
    cert_file = where / "cert.pem"
    cert_file.write_bytes(crypto.cert_pem(cert))
    key_file = where / "key.pem"  # test-only throwaway key, deleted with the temp dir
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    return key, cert, cert_file, key_file


@pytest.mark.parametrize("scope", crypto.SCOPES)
def test_what_kubeseal_seals_we_can_read(material, scope) -> None:
    key, _, cert_file, _ = material
    sealed = sealing.seal_with_kubeseal(KUBESEAL, cert_file, "tasknote-db", "tasknote-dev", VALUES, scope)
    assert sealed["kind"] == "SealedSecret"
    assert sealed["metadata"].get("annotations", {}) == sealing.scope_annotations(scope)
    assert lib.unseal(key, sealed) == VALUES


@pytest.mark.parametrize("scope", crypto.SCOPES)
def test_what_we_seal_kubeseal_can_read(material, scope) -> None:
    _, cert, _, key_file = material
    ours = sealing.sealed_secret("tasknote-db", "tasknote-dev", VALUES, cert, scope)
    result = run.run(
        [str(KUBESEAL), "--recovery-unseal", "--recovery-private-key", str(key_file), "--format", "json"],
        input_text=json.dumps(ours),
    )
    secret = json.loads(result.stdout)
    assert {k: base64.b64decode(v) for k, v in secret["data"].items()} == VALUES


@pytest.mark.parametrize("secret_type", ["kubernetes.io/dockerconfigjson", "kubernetes.io/tls"])
def test_kubeseal_keeps_the_secret_type(material, secret_type) -> None:
    key, _, cert_file, _ = material
    values = {"tls.crt": b"crt", "tls.key": b"key"} if secret_type.endswith("tls") else {
        ".dockerconfigjson": b'{"auths":{}}'}
    sealed = sealing.seal_with_kubeseal(KUBESEAL, cert_file, "typed", "tasknote-dev", values, "strict",
                                        secret_type)
    assert sealed["spec"]["template"]["type"] == secret_type
    assert lib.unseal(key, sealed) == values
