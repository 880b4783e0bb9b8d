"""The core CLI as an operator uses it: a real `motcua` process per command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def motcua(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    proc = subprocess.run([sys.executable, "-m", "edge.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          input=input, env=env, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"motcua {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def state(tmp_path: Path) -> Path:
    state = tmp_path / "box"
    out = motcua("--state-dir", str(state), "init", "--agency", "000.00.06.H56").stdout
    assert "demo city private key" in out
    return state


def test_create_show_list_page_check(state: Path, tmp_path: Path) -> None:
    applicant = tmp_path / "a.json"
    applicant.write_text(json.dumps({"full_name": "Võ Thị Sáu", "id_number": "001199009999", "date_of_birth": "1999-01-02",
                                     "gender": "Nữ", "address": "Hà Nội", "phone": "0987654321"}, ensure_ascii=False))
    page = tmp_path / "p1.png"
    page.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(5000))
    created = json.loads(motcua("--state-dir", str(state), "dossier", "create", "--procedure", "1.001612",
                                "--applicant", str(applicant), "--page", str(page), "--page", str(page)).stdout)
    assert set(created) == {"id", "code"} and created["code"].startswith("000.00.06.H56-")
    shown = json.loads(motcua("--state-dir", str(state), "dossier", "show", created["id"], "--json").stdout)
    assert shown["applicant"]["full_name"] == "Võ Thị Sáu" and len(shown["pages"]) == 2
    assert shown["pages"][0]["media_type"] == "image/png"
    listed = json.loads(motcua("--state-dir", str(state), "dossier", "list", "--json").stdout)
    assert [d["code"] for d in listed] == [created["code"]]
    out = tmp_path / "out.png"
    motcua("--state-dir", str(state), "dossier", "page", created["code"], "2", "--out", str(out))
    assert out.read_bytes() == page.read_bytes()
    assert "OK" in motcua("--state-dir", str(state), "check").stdout


def test_check_fails_naming_the_broken_blob(state: Path, tmp_path: Path) -> None:
    applicant = tmp_path / "a.json"
    applicant.write_text(json.dumps({"full_name": "A B", "id_number": "001199009998"}))
    page = tmp_path / "p.png"
    page.write_bytes(os.urandom(3000))
    created = json.loads(motcua("--state-dir", str(state), "dossier", "create", "--procedure", "1.001612",
                                "--applicant", str(applicant), "--page", str(page)).stdout)
    blob = next((state / "blobs").rglob("*/*"))
    blob.write_bytes(blob.read_bytes()[:-10])
    proc = motcua("--state-dir", str(state), "check", check=False)
    assert proc.returncode == 1
    assert f"BROKEN: dossier {created['code']} page 1" in proc.stdout


@pytest.mark.parametrize(("content", "message"), [
    ('{"full_name": "A", "id_number": 123}', "id_number: must be a string"),
    ('{"full_name": "A", "id_number": "123"}', "id_number: must be exactly 12 digits"),
    ("not json", "is not valid JSON"),
])
def test_bad_applicant_file_is_a_clear_error(state: Path, tmp_path: Path, content: str, message: str) -> None:
    applicant = tmp_path / "a.json"
    applicant.write_text(content)
    proc = motcua("--state-dir", str(state), "dossier", "create", "--procedure", "1.001612", "--applicant", str(applicant),
                  check=False)
    assert proc.returncode == 2 and message in proc.stderr
    assert json.loads(motcua("--state-dir", str(state), "dossier", "list", "--json").stdout) == []


def test_missing_state_dir_is_a_clear_error(tmp_path: Path) -> None:
    proc = motcua("--state-dir", str(tmp_path / "none"), "dossier", "list", check=False)
    assert proc.returncode == 2 and "does not exist" in proc.stderr and "init --agency" in proc.stderr


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    cfg = tmp_path / "edge.toml"
    cfg.write_text('[web]\nsession_secret = "top-secret-value"\n')
    out = motcua("--config", str(cfg), "config", "show").stdout
    assert "top-secret-value" not in out and "********" in out


def test_passphrase_provider_stays_locked_without_it(tmp_path: Path) -> None:
    state = tmp_path / "locked"
    motcua("--state-dir", str(state), "init", "--agency", "000.00.06.H56", "--passphrase-stdin", input="correct horse battery\n")
    proc = motcua("--state-dir", str(state), "dossier", "list", check=False)
    assert proc.returncode == 2 and "locked" in proc.stderr
    env_ok = subprocess.run([sys.executable, "-m", "edge.cli", "--state-dir", str(state), "dossier", "list", "--json"],
                            cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "MOTCUA_PASSPHRASE": "correct horse battery"})
    assert env_ok.returncode == 0 and json.loads(env_ok.stdout) == []
    wrong = subprocess.run([sys.executable, "-m", "edge.cli", "--state-dir", str(state), "dossier", "list"],
                           cwd=ROOT, capture_output=True, text=True, env={**os.environ, "MOTCUA_PASSPHRASE": "wrong one!!"})
    assert wrong.returncode == 2 and "wrong passphrase" in wrong.stderr


def test_with_a_catalog_create_computes_the_appointment_and_prints_a_receipt(state: Path, tmp_path: Path) -> None:
    catalog = ROOT / "edge" / "reception" / "data" / "demo_catalog.json"
    motcua("--state-dir", str(state), "catalog", "import", str(catalog))
    code = json.loads(catalog.read_text())
    procedures = code["procedures"] if isinstance(code, dict) else code
    proc_code = procedures[0]["code"]
    applicant = tmp_path / "a.json"
    applicant.write_text(json.dumps({"full_name": "Đặng Thùy Trâm", "id_number": "001199001111", "address": "Huế"},
                                    ensure_ascii=False))
    unknown = motcua("--state-dir", str(state), "dossier", "create", "--procedure", "9.999999", "--applicant", str(applicant),
                     check=False)
    assert unknown.returncode == 2 and "9.999999" in unknown.stderr
    created = json.loads(motcua("--state-dir", str(state), "dossier", "create", "--procedure", proc_code,
                                "--applicant", str(applicant)).stdout)
    shown = json.loads(motcua("--state-dir", str(state), "dossier", "show", created["id"], "--json").stdout)
    assert shown["due_at"] and shown["due_at"] > shown["received_at"]
    pdf = tmp_path / "r.pdf"
    motcua("--state-dir", str(state), "dossier", "receipt", created["code"], "--out", str(pdf), "--clerk", "Nguyễn Cán Bộ")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert created["code"] in text and "Đặng Thùy Trâm" in text
