"""Signed digitized copies end to end: `dossier create --sign --pin-stdin` on a box whose token is
SoftHSM2, the dossier pushed to a real hub, `hub open` verifying every signature (pyHanko)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from hubclient import Station

from bench._token import make_ca
from edge.cli._main import cli
from edge.store import Store
from sync.hub._signatures import verify_pages
from tests.plaintext import find_plaintext
from tests.tokens import PIN, component_pdf, signing_section, token_factory  # noqa: F401

AGENCY = "000.00.06.H56"
APPLICANT = {"full_name": "Trần Thị Ký Số", "id_number": "001099077777", "date_of_birth": "1990-05-01"}


def run(*args: str, input: str | None = None, env: dict | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False, standalone_mode=False, env=env)
    assert result.exit_code == 0, result.output
    return result.output


def made(*args: str, input: str | None = None, env: dict | None = None) -> dict:
    out = run(*args, input=input, env=env)
    return json.loads(out[out.index("{"):])  # after the empty catalog's warning (stderr)


def run_fails(*args: str, input: str | None = None, env: dict | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), input=input, standalone_mode=True, env=env)
    assert result.exit_code != 0
    exc = result.exception
    return result.output + (f"{exc} {getattr(exc, 'message_vi', '')}" if exc else "")  # as main() prints it


@pytest.fixture
def city(tmp_path: Path, hub_process):
    data_dir = tmp_path / "hub"
    run("hub", "init", "--data-dir", str(data_dir))
    token = json.loads(run("hub", "add-station", "HN-0001", "--agency", AGENCY, "--data-dir", str(data_dir),
                           "--json"))["token"]
    url, _, _ = hub_process(data_dir)
    return data_dir, url, token


def load_roots_pem(pem_bytes: bytes) -> list:
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509

    return [asn1_x509.Certificate.load(der) for _t, _h, der in pem.unarmor(pem_bytes, multiple=True)]


def test_altered_or_substituted_pages_are_invalid_in_the_report(token_factory):  # noqa: F811
    import datetime as dt

    from edge.signing import SigningConfig, sign_batch

    hsm = token_factory()
    cfg = SigningConfig(**signing_section(hsm))
    [signed] = sign_batch(cfg, PIN, [component_pdf(2)], now=dt.datetime.now(dt.UTC))
    roots = load_roots_pem(hsm.ca.pem())
    declared = {"index": 1, "component": "TK", "cert_sha256": signed.cert_sha256, "signed_at": signed.signed_at,
                "level": "B-B"}
    manifest = {"dossier_id": "d", "signatures": [declared]}
    page = {"index": 1, "file": "page-001.pdf", "media_type": "application/pdf", "component": "TK"}
    assert verify_pages(manifest, [page], lambda _p: signed.data, roots=roots)["state"] == "valid"
    altered = bytearray(signed.data)
    at = altered.index(b"/Width") + 7
    altered[at:at + 1] = b"9" if altered[at:at + 1] != b"9" else b"8"
    report = verify_pages(manifest, [page], lambda _p: bytes(altered), roots=roots)
    assert report["state"] == "invalid"
    assert any("altered" in f for f in report["pages"][0]["signatures"][0]["failed"])
    appended = signed.data + b"\n% a change after signing\n"
    report = verify_pages(manifest, [page], lambda _p: appended, roots=roots)
    assert report["state"] == "invalid", report
    other = {**declared, "cert_sha256": "0" * 64}  # the manifest names another signer
    report = verify_pages({"dossier_id": "d", "signatures": [other]}, [page], lambda _p: signed.data, roots=roots)
    assert report["state"] == "invalid" and "not the certificate" in json.dumps(report)
    undeclared = verify_pages({"dossier_id": "d"}, [page], lambda _p: signed.data, roots=roots)
    assert undeclared["state"] == "invalid" and "records no signature" in json.dumps(undeclared)


def _box(tmp_path: Path, data_dir: Path, hsm) -> tuple[Path, dict]:
    state = tmp_path / "box"
    config = tmp_path / "edge.toml"
    section = signing_section(hsm)
    config.write_text("[store]\nstate_dir = \"{}\"\n[station]\nstation_id = \"HN-0001\"\nagency_code = \"{}\"\n"
                      "[signing]\n{}\n".format(state, AGENCY, "\n".join(f'{k} = "{v}"' for k, v in section.items())))
    env = {"MOTCUA_CONFIG": str(config)}
    run("--config", str(config), "init", "--agency", AGENCY, "--city-key",
        str(data_dir / "keys" / "city-public-key.json"), env=env)
    return config, env


def _push(config: Path, dossier_id: str, url: str, token: str) -> None:
    from edge.config import load_settings

    with Store.open(load_settings(config, env={})) as store:
        manifest = store.export_manifest(dossier_id)
        blobs = [store.blobs.path(b["sha256"]).read_bytes() for b in manifest["blobs"]]
        box = Station(url, "HN-0001", key=store.station_signing_key())
    assert box.enroll(token).status == 200
    assert box.put(manifest).status == 201
    for blob in blobs:
        box.upload(dossier_id, blob, chunk=1 << 20)
    assert box.commit(manifest).status == 200


def test_signed_at_the_box_valid_at_the_city(tmp_path: Path, city, token_factory, caplog):  # noqa: F811
    data_dir, url, hub_token = city
    hsm = token_factory()
    config, env = _box(tmp_path, data_dir, hsm)
    applicant = tmp_path / "a.json"
    applicant.write_text(json.dumps(APPLICANT, ensure_ascii=False))
    pdf = tmp_path / "to-khai.pdf"
    pdf.write_bytes(component_pdf(3))

    # A wrong PIN stores nothing and says so in Vietnamese.
    refused = run_fails("--config", str(config), "dossier", "create", "--procedure", "1.001612", "--applicant",
                        str(applicant), "--page", str(pdf), "--component", "TK", "--sign", "--pin-stdin",
                        input="wrong-pin-000\n", env=env)
    assert "PIN không đúng" in refused
    assert json.loads(run("--config", str(config), "dossier", "list", "--json", env=env)) == []

    with caplog.at_level(logging.DEBUG):
        created = made("--config", str(config), "dossier", "create", "--procedure", "1.001612",
                       "--applicant", str(applicant), "--page", str(pdf), "--component", "TK", "--sign",
                       "--pin-stdin", input=PIN + "\n", env=env)
    assert PIN not in caplog.text
    out = tmp_path / "page1.pdf"
    run("--config", str(config), "dossier", "page", created["id"], "1", "--out", str(out), env=env)
    signed = out.read_bytes()
    assert signed.startswith(pdf.read_bytes()) and b"/ETSI.CAdES.detached" in signed
    assert find_plaintext(tmp_path / "box", [PIN]) == []  # the PIN is nowhere on the box's disk

    from edge.config import load_settings

    with Store.open(load_settings(config, env={})) as store:
        manifest = store.export_manifest(created["id"])
    [record] = manifest["signatures"]
    assert record["index"] == 1 and record["component"] == "TK" and record["level"] == "B-B"
    assert "signatures" not in manifest.get("meta", {})

    status = json.loads(run("--config", str(config), "token", "--json", env=env))  # the token's state
    assert status["state"] == "ok" and status["cert_sha256"] == record["cert_sha256"]

    _push(config, created["id"], url, hub_token)
    (data_dir / "signing-roots.pem").write_bytes(hsm.ca.pem())
    assert "signature unverified" in run("hub", "dossiers", "--data-dir", str(data_dir))
    opened = tmp_path / "opened"
    text = run("hub", "open", created["code"], "--city-key", str(data_dir / "keys" / "city-private-key.json"),
               "--out", str(opened), "--data-dir", str(data_dir))
    assert "signatures: valid" in text and "signer" in text and "Bộ phận Một cửa Thử nghiệm" in text
    report = json.loads((opened / "signatures.json").read_text())
    [page] = report["pages"]
    [sig] = page["signatures"]
    assert sig["valid"] and sig["failed"] == [] and sig["cert_sha256"] == record["cert_sha256"]
    assert sig["signed_at"] == record["signed_at"]
    listed = json.loads(run("hub", "dossiers", "--json", "--data-dir", str(data_dir)))
    assert [d["signature"] for d in listed] == ["valid"]
    assert json.loads(run("hub", "dossiers", "--json", "--unsigned", "--data-dir", str(data_dir))) == []


def test_untrusted_ca_and_unsigned_dossiers_are_reported_at_the_city(tmp_path: Path, city, token_factory):  # noqa: F811
    data_dir, url, hub_token = city
    hsm = token_factory()
    config, env = _box(tmp_path, data_dir, hsm)
    applicant = tmp_path / "a.json"
    applicant.write_text(json.dumps(APPLICANT, ensure_ascii=False))
    pdf = tmp_path / "c.pdf"
    pdf.write_bytes(component_pdf(1))
    signed = made("--config", str(config), "dossier", "create", "--procedure", "1.001612", "--applicant",
                  str(applicant), "--page", str(pdf), "--component", "TK", "--sign", "--pin-stdin",
                  input=PIN + "\n", env=env)
    unsigned = made("--config", str(config), "dossier", "create", "--procedure", "1.001612",
                    "--applicant", str(applicant), "--page", str(pdf), "--component", "TK", env=env)
    _push(config, signed["id"], url, hub_token)
    _push(config, unsigned["id"], url, hub_token)
    (data_dir / "signing-roots.pem").write_bytes(make_ca("Một CA khác").pem())  # not the token's CA
    key = str(data_dir / "keys" / "city-private-key.json")
    text = run("hub", "open", signed["id"], "--city-key", key, "--out", str(tmp_path / "o1"), "--data-dir", str(data_dir))
    assert "signatures: invalid" in text and "does not chain to a trusted root" in text
    text = run("hub", "open", unsigned["id"], "--city-key", key, "--out", str(tmp_path / "o2"), "--data-dir",
               str(data_dir))
    assert "signatures: missing" in text
    flagged = json.loads(run("hub", "dossiers", "--json", "--unsigned", "--data-dir", str(data_dir)))
    assert sorted((d["dossier_id"], d["signature"]) for d in flagged) == sorted(
        [(signed["id"], "invalid"), (unsigned["id"], "missing")])
    # The right roots given on the command line: the same dossier is valid.
    roots = tmp_path / "roots.pem"
    roots.write_bytes(hsm.ca.pem())
    text = run("hub", "open", signed["id"], "--city-key", key, "--out", str(tmp_path / "o3"), "--trust-roots",
               str(roots), "--data-dir", str(data_dir))
    assert "signatures: valid" in text
