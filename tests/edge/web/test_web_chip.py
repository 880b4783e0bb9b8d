"""The "Đọc CCCD" panel's chip option over real HTTP, real pcscd + vpcd and the eMRTD card
emulator of tests/edge/devices/cccd: the applicant is filled from DG1/DG13, an unverified
passive authentication is shown, wrong access data and a missing reader get Vietnamese messages,
and nothing read from the card reaches the disk or the logs."""

from __future__ import annotations

import inspect
import json
import logging
import re

import pytest
from web_helpers import card_stack, login

from edge.web import create_app
from tests.plaintext import find_plaintext

pytestmark = pytest.mark.pcsc

cardfiles, emulator_mod, pcsc_stack = card_stack()
NAME = cardfiles.DG13_VALUES[2]
ADDRESS = cardfiles.DG13_VALUES[9]
MRZ = {"chip_doc": cardfiles.ID_NUMBER, "chip_dob": "1990-02-15", "chip_expiry": "2030-02-15"}


@pytest.fixture
def chip_app(aiohttp_client, settings, store, card_csca_dir):
    async def make(**devices):
        cfg = {"card_reader": pcsc_stack.READER, "csca_dir": str(card_csca_dir), **devices}
        client = await aiohttp_client(create_app(settings=settings.replace("devices", **cfg), store=store))
        return client, await login(client)
    return make


def value_of(html: str, name: str) -> str:
    match = re.search(rf'id="f-{name}" name="{name}" type="[a-z]+" value="([^"]*)"', html)
    assert match, f"no input {name}"
    return match.group(1)


async def _read(client, csrf, **fields):
    return await client.post("/dossiers/new", data={"csrf_token": csrf, "action": "read_chip", "phone": "0912000111",
                                                    "procedure_code": "1.004222", **fields})


async def test_mrz_read_fills_the_applicant(chip_app, insert_card, store, caplog):
    caplog.set_level(logging.DEBUG)
    insert_card()
    client, csrf = await chip_app()
    resp = await _read(client, csrf, **MRZ)
    html = await resp.text()
    assert resp.status == 200, html
    assert value_of(html, "full_name") == NAME
    assert value_of(html, "id_number") == cardfiles.ID_NUMBER
    assert value_of(html, "date_of_birth") == "1990-02-15"
    assert value_of(html, "address") == ADDRESS
    assert value_of(html, "old_id_number") == cardfiles.DG13_VALUES[15]
    assert "<option selected>Nữ</option>" in html
    assert value_of(html, "phone") == "0912000111"  # typed before the read: kept
    assert 'id="chip-notice"' in html and 'id="chip-warning"' not in html
    assert value_of(html, "chip_doc") == "" and value_of(html, "chip_dob") == ""  # access data not echoed
    rows = store.query("SELECT details FROM audit WHERE action = 'cccd.chip_read'")
    assert rows and json.loads(rows[0]["details"]) == {"verified": True}
    # Nothing from the card on disk or in any log line.
    store.checkpoint()
    markers = [NAME, cardfiles.ID_NUMBER, ADDRESS, cardfiles.DOC_NUMBER, cardfiles.DG13_VALUES[15], "15/02/1990"]
    assert find_plaintext(store.root, markers) == []
    logged = caplog.text
    assert not [m for m in markers if m in logged]


async def test_unverified_chip_data_is_marked(chip_app, insert_card, tmp_path):
    insert_card()
    other = tmp_path / "other-csca"
    other.mkdir()
    (other / "csca.pem").write_bytes(cardfiles.make_pki("Another CSCA").csca_pem())
    client, csrf = await chip_app(csca_dir=str(other))
    html = await (await _read(client, csrf, **MRZ)).text()
    assert value_of(html, "full_name") == NAME  # the data is still offered, marked
    warning = re.search(r'id="chip-warning">(.*?)</p>', html, re.S).group(1)
    assert "Dữ liệu chip chưa được xác thực" in warning


async def test_wrong_mrz_and_bad_input(chip_app, insert_card):
    insert_card()
    client, csrf = await chip_app()
    resp = await _read(client, csrf, **{**MRZ, "chip_dob": "1991-02-15"})
    html = await resp.text()
    assert resp.status == 422
    assert "Thông tin MRZ không khớp với thẻ" in re.search(r'id="chip-error"[^>]*>([^<]+)<', html).group(1)
    assert value_of(html, "phone") == "0912000111" and value_of(html, "chip_dob") == "1991-02-15"
    assert value_of(html, "full_name") == ""
    for fields, name, words in [({}, "chip_can", "Nhập mã CAN"), ({"chip_can": "12ab"}, "chip_can", "6 chữ số"),
                                ({"chip_doc": "079190001234"}, "chip_dob", "đủ ba thông tin"),
                                ({**MRZ, "chip_expiry": "31/02/2030"}, "chip_expiry", "ngày hợp lệ")]:
        resp = await _read(client, csrf, **fields)
        assert resp.status == 422, fields
        message = re.search(rf'id="f-{name}-error" role="alert">([^<]+)<', await resp.text())
        assert message and words in message.group(1), (fields, message)


async def test_no_reader_and_no_card(chip_app, web_pcscd):
    client, csrf = await chip_app(card_reader="Đầu đọc đã rút ra")
    html = await (await _read(client, csrf, **MRZ)).text()
    assert "Không tìm thấy đầu đọc thẻ" in html
    client, csrf = await chip_app()
    html = await (await _read(client, csrf, **MRZ)).text()
    assert "Chưa có thẻ trên đầu đọc" in html


def _pace_emulated() -> bool:
    return "pace" in inspect.signature(emulator_mod.EmrtdCard).parameters


@pytest.mark.skipif(not _pace_emulated(), reason="the card emulator offers no PACE yet")
async def test_can_read_over_pace(chip_app, insert_card):
    can = "246810"
    insert_card(pace=[("2.2", 13)], can=can, bac=False)  # PACE-GM AES-128 brainpoolP256r1, no BAC
    client, csrf = await chip_app()
    resp = await _read(client, csrf, chip_can=can)
    html = await resp.text()
    assert resp.status == 200, re.findall(r'role="alert"[^>]*>([^<]+)<', html)
    assert value_of(html, "full_name") == NAME and value_of(html, "id_number") == cardfiles.ID_NUMBER
    resp = await _read(client, csrf, chip_can="135790")
    assert resp.status == 422 and "Số CAN không đúng" in await resp.text()


FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


async def test_unicode_digits_typed_by_the_clerk_are_normalized(chip_app, insert_card):
    insert_card()
    client, csrf = await chip_app()
    typed = {"chip_doc": cardfiles.ID_NUMBER.translate(FULL_WIDTH), "chip_dob": "１５/０２/１９９０",
             "chip_expiry": "300215".translate(FULL_WIDTH)}
    resp = await _read(client, csrf, **typed)
    html = await resp.text()
    assert resp.status == 200, re.findall(r'role="alert"[^>]*>([^<]+)<', html)
    assert value_of(html, "full_name") == NAME
    resp = await _read(client, csrf, **{**MRZ, "chip_dob": "²⁰⁰²¹⁵"})  # superscripts are not decimal digits
    assert resp.status == 422
    message = re.search(r'id="f-chip_dob-error" role="alert">([^<]+)<', await resp.text())
    assert message and "ngày hợp lệ" in message.group(1)


@pytest.mark.skipif(not _pace_emulated(), reason="the card emulator offers no PACE yet")
async def test_full_width_can_opens_the_card(chip_app, insert_card):
    insert_card(pace=[("2.2", 13)], can="246810", bac=False)
    client, csrf = await chip_app()
    resp = await _read(client, csrf, chip_can="２４６８１０")
    html = await resp.text()
    assert resp.status == 200, re.findall(r'role="alert"[^>]*>([^<]+)<', html)
    assert value_of(html, "full_name") == NAME


@pytest.mark.parametrize("craft", ["empty_content_type", "unknown_key"])
async def test_crafted_sod_keeps_the_form_and_marks_the_data(chip_app, insert_card, card_pki, craft):
    options = ({"empty_attribute": "content_type"} if craft == "empty_content_type"
               else {"certificate": cardfiles.unknown_key_certificate(card_pki)})
    emulator = insert_card()
    emulator.card.files = cardfiles.card_files(card_pki, **options)
    client, csrf = await chip_app()
    resp = await _read(client, csrf, **MRZ)
    html = await resp.text()
    assert resp.status == 200, html[-500:]
    assert value_of(html, "full_name") == NAME and value_of(html, "phone") == "0912000111"
    warning = re.search(r'id="chip-warning">(.*?)</p>', html, re.S).group(1)
    assert "Dữ liệu chip chưa được xác thực" in warning and "Chữ ký số trên chip không hợp lệ" in warning


async def test_expired_certificate_is_shown_as_expired(chip_app, insert_card, tmp_path):
    old = cardfiles.make_pki("Old CSCA VN", ds_days=(-900, -20))
    folder = tmp_path / "old-csca"
    folder.mkdir()
    (folder / "old.pem").write_bytes(old.csca_pem())
    emulator = insert_card()
    emulator.card.files = cardfiles.card_files(old)
    client, csrf = await chip_app(csca_dir=str(folder))
    html = await (await _read(client, csrf, **MRZ)).text()
    assert value_of(html, "full_name") == NAME  # still offered, marked
    warning = re.search(r'id="chip-warning">(.*?)</p>', html, re.S).group(1)
    assert "Chứng thư số của thẻ đã hết hạn từ ngày" in warning


def test_read_chip_checks_dates_at_the_time_given(insert_card, settings, card_csca_dir):
    """read_chip passes the box's corrected time on: at a time past the certificates, the chain
    is marked expired (through the real PC/SC stack and the card emulator)."""
    import datetime as dt

    from edge.devices.cccd import MrzKey
    from edge.web import _chip

    insert_card()
    cfg = settings.replace("devices", card_reader=pcsc_stack.READER, csca_dir=str(card_csca_dir))
    key = MrzKey.from_fields(cardfiles.ID_NUMBER, cardfiles.DOB, cardfiles.EXPIRY)
    read = _chip.read_chip(cfg, key, None, now=dt.datetime.now(dt.UTC))
    assert read.verified is True and read.expired is False
    read = _chip.read_chip(cfg, key, None, now=dt.datetime(2040, 1, 1, tzinfo=dt.UTC))
    assert read.verified is False and read.expired is True
    assert read.reason_vi.startswith("Chứng thư số của thẻ đã hết hạn từ ngày")
    assert read.applicant["full_name"] == NAME


async def test_the_page_checks_dates_at_the_corrected_clock(chip_app, insert_card, store):
    import datetime as dt

    insert_card()
    store.clock.observe_server_time(dt.datetime(2040, 1, 1, tzinfo=dt.UTC).timestamp())
    client, csrf = await chip_app()
    html = await (await _read(client, csrf, **MRZ)).text()
    warning = re.search(r'id="chip-warning">(.*?)</p>', html, re.S).group(1)
    assert "hết hạn" in warning
