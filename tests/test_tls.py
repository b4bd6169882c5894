# ruff: noqa: E501  (pinned one-line messages are long by design)
"""TLS: certificates are verified by default; `tls:` trusts a CA bundle, turns checks off
explicitly, or presents a client certificate. End to end against the bundled target serving
HTTPS on 127.0.0.1 with certificates made by `openssl` at test time."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import run_loadkit

from loadkit.compiler import compile_scenario
from loadkit.demo_target.process import TargetProcess
from loadkit.demo_target.server import TargetTLS, _parse_args
from loadkit.errors import ScenarioError
from loadkit.exit_codes import ExitStatus
from loadkit.scenario import load_scenario


@dataclass(frozen=True)
class Certificates:
    """A test CA, a server certificate for 127.0.0.1 and a client certificate it signed."""

    folder: Path
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_combined: Path  # the client certificate followed by its key, in one file
    client_key_encrypted: Path
    other_key: Path  # a key that belongs to no certificate here


def _openssl(folder: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True, timeout=30)


def _signed(folder: Path, name: str, subject: str, extensions: str) -> None:
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(folder, "req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject)
    (folder / f"{name}.ext").write_text(extensions)
    _openssl(folder, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-out", f"{name}.pem", "-extfile", f"{name}.ext")  # fmt: skip


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    folder = tmp_path_factory.mktemp("certs")
    _openssl(folder, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=loadkit test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    _signed(folder, "server", "/CN=127.0.0.1",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")  # fmt: skip
    _signed(folder, "client", "/CN=loadkit client", "extendedKeyUsage=clientAuth\n")
    combined = folder / "client-combined.pem"
    combined.write_text((folder / "client.pem").read_text() + (folder / "client.key").read_text())
    _openssl(folder, "pkey", "-in", "client.key", "-aes256", "-passout", "pass:secret",
             "-out", "client-encrypted.key")  # fmt: skip
    _openssl(folder, "genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-out", "other.key")  # fmt: skip
    return Certificates(
        folder,
        folder / "ca.pem",
        folder / "server.pem",
        folder / "server.key",
        folder / "client.pem",
        folder / "client.key",
        combined,
        folder / "client-encrypted.key",
        folder / "other.key",
    )


@pytest.fixture
def https_target(certs: Certificates) -> Iterator[TargetProcess]:
    with TargetProcess(tls=TargetTLS(str(certs.server_cert), str(certs.server_key))) as target:
        yield target


@pytest.fixture
def mtls_target(certs: Certificates) -> Iterator[TargetProcess]:
    tls = TargetTLS(str(certs.server_cert), str(certs.server_key), client_ca=str(certs.ca))
    client = (str(certs.client_cert), str(certs.client_key))
    with TargetProcess(tls=tls, client_cert=client) as target:
        yield target


def scenario_text(host: str, tls: str = "") -> str:
    return f"""\
name: tls
host: {host}
load: {{users: 3, spawn_rate: 3, duration: 2s}}
{tls}
defaults: {{think_time: 0.02, timeout: 5s}}
users:
  - name: citizen
    tasks:
      - request: {{url: /api/cases}}
        expect: {{status: 200}}
"""


def run(folder: Path, text: str) -> tuple[int, dict, Path]:
    scenario = folder / "scenario.yaml"
    scenario.write_text(text)
    out = folder / "run"
    result = run_loadkit("run", str(scenario), "--out", str(out))
    assert "Traceback" not in result.stdout + result.stderr, result
    return result.returncode, json.loads((out / "summary.json").read_text()), out


def copy_into(folder: Path, *files: Path) -> None:
    for file in files:
        (folder / file.name).write_text(file.read_text())


# ------------------------------------------------------------------------------ end to end


@pytest.mark.e2e
def test_unknown_ca_fails_by_default(https_target: TargetProcess, tmp_path: Path) -> None:
    assert https_target.url.startswith("https://127.0.0.1:")
    code, summary, out = run(tmp_path, scenario_text(https_target.url))
    assert code == ExitStatus.THRESHOLDS_FAILED
    assert summary["verdict"] == "fail"
    assert summary["totals"]["requests"] > 0
    assert summary["totals"]["failures"] == summary["totals"]["requests"]
    [failure] = summary["failures"]
    assert "CERTIFICATE_VERIFY_FAILED" in failure["error"]
    assert "certificate verify failed: unable to get local issuer certificate" in failure["error"]
    assert https_target.requests_seen()["total"] == 0  # no request got past the handshake
    assert "    insecure = False  #" in (out / "locustfile.py").read_text()


@pytest.mark.e2e
def test_verify_false_accepts_any_certificate(https_target: TargetProcess, tmp_path: Path) -> None:
    code, summary, out = run(tmp_path, scenario_text(https_target.url, "tls: {verify: false}"))
    assert code == ExitStatus.PASS, summary["failures"]
    assert summary["totals"]["failures"] == 0
    assert summary["totals"]["requests"] == https_target.requests_seen()["total"] > 10
    locustfile = (out / "locustfile.py").read_text()
    assert "    insecure = True  # tls: {verify: false}: any certificate is accepted" in locustfile
    assert "TLSSettings" not in locustfile


@pytest.mark.e2e
def test_ca_bundle_is_trusted_and_travels_in_the_locustfile(
    https_target: TargetProcess, certs: Certificates, tmp_path: Path
) -> None:
    copy_into(tmp_path, certs.ca)
    code, summary, out = run(tmp_path, scenario_text(https_target.url, "tls: {ca_bundle: ca.pem}"))
    assert code == ExitStatus.PASS, summary["failures"]
    assert summary["totals"]["failures"] == 0
    assert summary["totals"]["requests"] == https_target.requests_seen()["total"] > 10
    locustfile = (out / "locustfile.py").read_text()
    # Embedded line by line, so a worker that gets the locustfile from the master has it.
    for line in certs.ca.read_text().splitlines():
        assert repr(line + "\n") in locustfile
    assert "ssl_context_factory = TLS_SETTINGS" in locustfile


@pytest.mark.e2e
def test_client_certificate_for_mutual_tls(
    mtls_target: TargetProcess, certs: Certificates, tmp_path: Path
) -> None:
    copy_into(tmp_path, certs.ca, certs.client_cert, certs.client_key)
    tls = "tls: {ca_bundle: ca.pem, client_cert: client.pem, client_key: client.key}"
    code, summary, out = run(tmp_path, scenario_text(mtls_target.url, tls))
    assert code == ExitStatus.PASS, summary["failures"]
    assert summary["totals"]["requests"] == mtls_target.requests_seen()["total"] > 10
    locustfile = (out / "locustfile.py").read_text()
    assert f"    client_key={str(tmp_path / 'client.key')!r}," in locustfile
    assert "PRIVATE KEY" not in locustfile  # the key is read at run time, never copied
    key_lines = certs.client_key.read_text().splitlines()[1:-1]
    assert not any(line in locustfile for line in key_lines)


@pytest.mark.e2e
def test_mutual_tls_without_client_certificate_fails(
    mtls_target: TargetProcess, certs: Certificates, tmp_path: Path
) -> None:
    copy_into(tmp_path, certs.ca)
    code, summary, _ = run(tmp_path, scenario_text(mtls_target.url, "tls: {ca_bundle: ca.pem}"))
    assert code == ExitStatus.THRESHOLDS_FAILED
    assert summary["totals"]["failures"] == summary["totals"]["requests"] > 0
    # The server's "certificate required" alert, or its closed connection if that comes first.
    errors = [f["error"] for f in summary["failures"]]
    assert all(e.startswith(("SSLError(", "SSLEOFError(")) for e in errors), errors
    assert mtls_target.requests_seen()["total"] == 0


# ------------------------------------------------------------------------- generated code


def test_every_user_class_verifies_certificates_by_default(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    text = scenario_text("https://127.0.0.1:9").replace(
        "users:\n", "users:\n  - name: officer\n    tasks: [{request: {url: /api/stats}}]\n"
    )
    path.write_text(text)
    code = compile_scenario(load_scenario(path, environ={}))
    assert (
        code.count("    insecure = False  # check TLS certificates (Locust's default does not)\n")
        == 2
    )
    assert "ssl" not in code.split("SCENARIO_NAME")[0]  # nothing more is imported


def test_client_key_may_be_in_the_certificate_file(certs: Certificates, tmp_path: Path) -> None:
    copy_into(tmp_path, certs.client_combined)
    path = tmp_path / "s.yaml"
    path.write_text(
        scenario_text(
            "https://127.0.0.1:9", "tls: {verify: false, client_cert: client-combined.pem}"
        )
    )
    code = compile_scenario(load_scenario(path, environ={}))
    assert "    verify=False,\n    ca_certificates=None,\n" in code
    assert (
        f"    client_cert={str(tmp_path / 'client-combined.pem')!r},\n    client_key=None,\n"
        in code
    )
    assert "    insecure = True  #" in code and "    ssl_context_factory = TLS_SETTINGS\n" in code
    assert "from gevent import ssl\n" in code
    compile(code, "tls.py", "exec")


# ------------------------------------------------------------------------------ validation

INVALID = [
    (
        "unknown-key",
        "tls: {verfy: false}",
        "s.yaml:4:7: tls.verfy: unknown key 'verfy'; did you mean 'verify'? (allowed: verify, ca_bundle, client_cert, client_key)",
    ),
    (
        "verify-not-bool",
        "tls: {verify: sometimes}",
        "s.yaml:4:15: tls.verify: expected true or false, got 'sometimes'",
    ),
    (
        "verify-false-with-ca",
        "tls: {verify: false, ca_bundle: ca.pem}",
        "s.yaml:4:6: tls: verify: false accepts any certificate, so ca_bundle would be ignored; remove one of them",
    ),
    (
        "key-without-cert",
        "tls: {client_key: client.key}",
        "s.yaml:4:6: tls: client_key needs client_cert, the certificate the key belongs to",
    ),
    (
        "ca-missing",
        "tls: {ca_bundle: certs/ca.pem}",
        "s.yaml:4:18: tls.ca_bundle: CA bundle 'certs/ca.pem' not found; paths are relative to the scenario",
    ),
    (
        "ca-not-pem",
        "tls: {ca_bundle: notes.txt}",
        "s.yaml:4:18: tls.ca_bundle: CA bundle 'notes.txt' holds no certificate; give CA certificates in PEM (-----BEGIN CERTIFICATE-----)",
    ),
    (
        "ca-holds-a-key",
        "tls: {ca_bundle: client-combined.pem}",
        "s.yaml:4:18: tls.ca_bundle: CA bundle 'client-combined.pem' holds a private key, and the bundle is copied into the locustfile; give a file with only the CA certificates",
    ),
    (
        "client-cert-missing",
        "tls: {client_cert: nobody.pem}",
        "s.yaml:4:20: tls.client_cert: client certificate 'nobody.pem' not found; paths are relative to the scenario",
    ),
    (
        "client-key-missing",
        "tls: {client_cert: client.pem, client_key: nobody.key}",
        "s.yaml:4:44: tls.client_key: client key 'nobody.key' not found; paths are relative to the scenario",
    ),
    (
        "client-cert-without-key",
        "tls: {client_cert: client.pem}",
        "s.yaml:4:20: tls.client_cert: client certificate 'client.pem' holds no private key; add client_key: KEY_FILE",
    ),
    (
        "client-key-mismatch",
        "tls: {client_cert: client.pem, client_key: other.key}",
        "s.yaml:4:44: tls.client_key: the private key in 'other.key' does not belong to certificate 'client.pem'",
    ),
    (
        "client-key-encrypted",
        "tls: {client_cert: client.pem, client_key: client-encrypted.key}",
        "s.yaml:4:44: tls.client_key: the private key in 'client-encrypted.key' is encrypted; give an unencrypted key (Locust cannot ask for a passphrase) and keep the file private",
    ),
    (
        "client-cert-is-a-key",
        "tls: {client_cert: client.key, client_key: client.key}",
        "s.yaml:4:20: tls.client_cert: client certificate 'client.key' holds no PEM certificate",
    ),
]


@pytest.mark.parametrize(("label", "tls", "expected"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_tls_is_one_exact_line(
    certs: Certificates, tmp_path: Path, label: str, tls: str, expected: str
) -> None:
    copy_into(tmp_path, certs.ca, certs.client_cert, certs.client_key, certs.client_combined,
              certs.client_key_encrypted, certs.other_key)  # fmt: skip
    (tmp_path / "notes.txt").write_text("not a certificate\n")
    path = tmp_path / "s.yaml"
    path.write_text(scenario_text("https://127.0.0.1:9", tls))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, environ={})
    assert str(caught.value).replace(str(tmp_path) + "/", "") == expected
    assert "\n" not in expected


def test_run_refuses_an_invalid_tls_setting_before_any_load(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(scenario_text("https://127.0.0.1:9", "tls: {ca_bundle: missing.pem}"))
    result = run_loadkit("run", str(path), "--out", str(tmp_path / "run"))
    assert result.returncode == ExitStatus.INVALID_INPUT
    assert result.stderr == (
        f"loadkit: error: {path}:4:18: tls.ca_bundle: CA bundle 'missing.pem' not found; "
        "paths are relative to the scenario\n"
    )
    assert not (tmp_path / "run").exists()


def test_target_tls_options_come_in_pairs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parse_args(["--tls-cert", "server.pem"])
    assert "give --tls-cert and --tls-key together" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parse_args(["--tls-client-ca", "ca.pem"])
    assert "--tls-client-ca needs --tls-cert and --tls-key" in capsys.readouterr().err
