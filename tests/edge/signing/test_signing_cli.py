"""The signing commands: `token`, `dossier create --sign --pin-stdin` with the catalog's
components, `dossier receipt --sign --pin-stdin`; poppler's pdfsig as the independent check."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench._token import remove_token
from edge import reception
from edge.cli._main import cli
from tests.tokens import PIN, component_pdf, signing_section

AGENCY = "000.00.06.H56"


def _run(config: Path, *args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["--config", str(config), *args], input=input, standalone_mode=False)


def _ok(config: Path, *args: str, input: str | None = None) -> str:
    result = _run(config, *args, input=input)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


@pytest.fixture
def box(tmp_path: Path, token_factory) -> tuple[Path, object]:
    hsm = token_factory()
    config = tmp_path / "edge.toml"
    lines = [f'{k} = "{v}"' for k, v in signing_section(hsm).items()]
    config.write_text(f'[store]\nstate_dir = "{tmp_path / "box"}"\n[signing]\n' + "\n".join(lines) + "\n")
    _ok(config, "init", "--agency", AGENCY)
    _ok(config, "catalog", "import", str(reception.DEMO_CATALOG))
    return config, hsm


def test_token_command_and_a_signed_receipt(box, tmp_path: Path):
    config, hsm = box
    status = json.loads(_ok(config, "token", "--json"))
    assert status["state"] == "ok" and status["cert_subject"].startswith("CN=Bộ phận Một cửa")
    applicant = tmp_path / "a.json"
    applicant.write_text(json.dumps({"full_name": "Lê Văn Ký", "id_number": "001099012399",
                                     "date_of_birth": "1991-02-03"}))
    pdf = tmp_path / "c.pdf"
    pdf.write_bytes(component_pdf(2))
    out = _ok(config, "dossier", "create", "--procedure", "1.004222", "--applicant", str(applicant), "--page",
              str(pdf), "--component", "CMCH", "--sign", "--pin-stdin", input=PIN + "\n")
    assert "ký số bằng chứng thư: CN=Bộ phận Một cửa Thử nghiệm" in out  # the signer, before the PIN
    created = json.loads(out[out.index("{"):])
    receipt = tmp_path / "receipt.pdf"
    _ok(config, "dossier", "receipt", created["code"], "--out", str(receipt), "--clerk", "Nguyễn Thị Lan", "--sign", "--pin-stdin",
        input=PIN + "\n")
    page = tmp_path / "page.pdf"
    _ok(config, "dossier", "page", created["id"], "1", "--out", str(page))
    if shutil.which("pdfsig") is None:
        pytest.skip("pdfsig is not installed (Debian package poppler-utils)")
    for path in (receipt, page):
        report = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
        assert "Signature is Valid" in report and "Bộ phận Một cửa Thử nghiệm" in report, report

    remove_token(hsm)
    result = _run(config, "token", "--json")
    assert result.exit_code == 1 and json.loads(result.output)["state"] == "absent"
    before = json.loads(_ok(config, "dossier", "list", "--json"))
    result = _run(config, "dossier", "create", "--procedure", "1.004222", "--applicant", str(applicant), "--page",
                  str(pdf), "--component", "CMCH", "--sign", "--pin-stdin", input=PIN + "\n")
    assert result.exit_code != 0 and "Không tìm thấy thiết bị ký số" in str(result.exception)
    assert json.loads(_ok(config, "dossier", "list", "--json")) == before  # nothing stored


def test_sign_without_a_configured_token_is_a_usage_error(tmp_path: Path):
    config = tmp_path / "edge.toml"
    config.write_text(f'[store]\nstate_dir = "{tmp_path / "box"}"\n')
    _ok(config, "init", "--agency", AGENCY)
    result = CliRunner().invoke(cli, ["--config", str(config), "dossier", "create", "--procedure", "1.004222",
                                      "--applicant", str(config), "--sign", "--pin-stdin"], input="x\n")
    assert result.exit_code == 2 and "[signing]" in result.output
