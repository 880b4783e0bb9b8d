"""motcua dossier create --draft, dossier refuse, dossier request-supplement: the forms written,
the Vietnamese messages of bad input, and nothing written on a refusal."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import unicodedata

import pytest
from click.testing import CliRunner

from edge.cli import cli
from edge.reception import DEMO_CATALOG

APPLICANT = {"full_name": "Phạm Minh Châu", "id_number": "031095004321", "date_of_birth": "1995-08-09",
             "gender": "Nữ", "address": "Số 8 phố Lạch Tray, Phường Gia Viên, Thành phố Hải Phòng"}


@pytest.fixture
def box(tmp_path, monkeypatch):
    for var in list(os.environ):
        if var.startswith("MOTCUA_"):
            monkeypatch.delenv(var)
    state = tmp_path / "box"
    runner = CliRunner()
    for args in (("init", "--agency", "000.00.06.H56"), ("catalog", "import", str(DEMO_CATALOG))):
        result = runner.invoke(cli, ["--state-dir", str(state), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    applicant = tmp_path / "applicant.json"
    applicant.write_text(json.dumps(APPLICANT, ensure_ascii=False), encoding="utf-8")
    return state, applicant


def motcua(state, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    return subprocess.run([sys.executable, "-c", "from edge.cli import main; main()", "--state-dir", str(state), *args],
                          capture_output=True, text=True, env=env, timeout=120)


def _draft(state, applicant) -> str:
    done = motcua(state, "dossier", "create", "--procedure", "1.004222", "--applicant", str(applicant), "--draft")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out) == {"id"}
    return out["id"]


def _text(path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True)
    return " ".join(unicodedata.normalize("NFC", out.stdout.decode()).split())


def _status(state, dossier_id):
    done = motcua(state, "dossier", "show", dossier_id, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) is not installed")
def test_refuse_and_request_supplement_write_their_forms(box, tmp_path):
    state, applicant = box
    refused = _draft(state, applicant)
    form03 = tmp_path / "form03.pdf"
    done = motcua(state, "dossier", "refuse", refused, "--reason", "Hồ sơ không thuộc thẩm quyền giải quyết",
                  "--legal-basis", "Nghị định số 118/2025/NĐ-CP", "--out", str(form03), "--clerk", "Trần Văn Đức")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["outcome"] == "refused" and out["code"].startswith("000.00.06.H56-")
    text = _text(form03)
    assert "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ" in text and out["code"] in text
    assert "không thuộc thẩm quyền" in text and "Phạm Minh Châu" in text and "Trần Văn Đức" in text
    assert oct(form03.stat().st_mode & 0o777) == "0o600"

    sent_back = _draft(state, applicant)
    form02 = tmp_path / "form02.pdf"
    done = motcua(state, "dossier", "request-supplement", sent_back, "--item", "CT01:Thiếu chữ ký",
                  "--item", "CMCH:Hợp đồng thuê nhà chưa công chứng", "--out", str(form02))
    assert done.returncode == 0, done.stderr
    asked = json.loads(done.stdout)
    text = _text(form02)
    assert "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ" in text and "Thiếu chữ ký" in text and "(CMCH)" in text

    # the citizen comes back: a new dossier names form 02's code and is received under a new code
    done = motcua(state, "dossier", "create", "--procedure", "1.004222", "--applicant", str(applicant),
                  "--supplement-of", asked["code"])
    assert done.returncode == 0, done.stderr
    completed = json.loads(done.stdout)
    assert completed["code"] != asked["code"] and _status(state, completed["id"])["status"] == "finalized"


@pytest.mark.parametrize("args, vi_part", [
    (("refuse", "{id}", "--out", "{out}"), "ghi rõ lý do từ chối"),
    (("refuse", "{id}", "--reason", "   ", "--out", "{out}"), "ghi rõ lý do từ chối"),
    (("request-supplement", "{id}", "--item", "NOPE:thiếu", "--out", "{out}"), "không có thành phần hồ sơ 'NOPE'"),
    (("request-supplement", "{id}", "--out", "{out}"), "ít nhất một thành phần"),
])
def test_bad_input_is_refused_in_vietnamese_and_nothing_is_written(box, tmp_path, args, vi_part):
    state, applicant = box
    dossier_id = _draft(state, applicant)
    out = tmp_path / "form.pdf"
    done = motcua(state, "dossier", *(a.format(id=dossier_id, out=out) for a in args))
    assert done.returncode != 0 and vi_part in done.stderr, done.stderr
    assert not out.exists()
    status = _status(state, dossier_id)
    assert status["status"] == "draft" and status["code"] is None


def test_a_draft_with_a_bad_supplement_code_is_not_created(box):
    state, applicant = box
    done = motcua(state, "dossier", "create", "--procedure", "1.004222", "--applicant", str(applicant), "--draft",
                  "--supplement-of", "000.00.06.H56-2701-1")
    assert done.returncode != 0 and "không phải mã hồ sơ" in done.stderr, done.stderr
    listed = motcua(state, "dossier", "list", "--json")
    assert json.loads(listed.stdout) == []


def test_dossier_list_shows_and_filters_the_outcome(box, tmp_path):
    state, applicant = box
    draft = _draft(state, applicant)
    refused = _draft(state, applicant)
    done = motcua(state, "dossier", "refuse", refused, "--reason", "Không thuộc thẩm quyền",
                  "--out", str(tmp_path / "f03.pdf"))
    assert done.returncode == 0, done.stderr
    listed = {d["id"]: d for d in json.loads(motcua(state, "dossier", "list", "--json").stdout)}
    assert (listed[refused]["status"], listed[refused]["outcome"]) == ("finalized", "refused")
    assert (listed[draft]["status"], listed[draft]["outcome"]) == ("draft", None)
    only = json.loads(motcua(state, "dossier", "list", "--status", "refused", "--json").stdout)
    assert [d["id"] for d in only] == [refused]
    assert json.loads(motcua(state, "dossier", "list", "--status", "finalized", "--json").stdout) == []
    text = motcua(state, "dossier", "list").stdout.splitlines()
    assert any(refused in line and " refused " in line for line in text), text
    bad = motcua(state, "dossier", "list", "--status", "received")
    assert bad.returncode != 0 and "supplement_requested" in bad.stderr


def test_the_cli_filter_choices_are_the_store_s():
    from edge.cli._core import LIST_STATUSES as cli_statuses
    from edge.store import LIST_STATUSES

    assert cli_statuses == LIST_STATUSES
