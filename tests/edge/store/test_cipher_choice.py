"""The page cipher follows the CPU: ChaCha20-Poly1305 without AES instructions (a Raspberry Pi 4),
AES-256-GCM with them. Only the read of ``/proc/cpuinfo`` is replaced (the OS boundary)."""

from __future__ import annotations

import builtins
import io

import pytest

from edge.store import PageSource, Store
from edge.store._crypto import choose_cipher, cpu_has_aes
from tests.conftest import AGENCY, make_settings

# What these CPUs print (trimmed to one core): a Raspberry Pi 4 (Cortex-A72, no crypto
# extensions), a Raspberry Pi 5 (Cortex-A76, with them), an x86-64 CPU with and without AES-NI.
PI4 = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU part\t: 0xd08
"""
PI5 = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer\t: 0x41
CPU part\t: 0xd0b
"""
X86_AES = """processor\t: 0
model name\t: Intel(R) Xeon(R) CPU
flags\t\t: fpu vme de pse tsc msr pae mce sse sse2 ssse3 sse4_1 sse4_2 aes xsave avx
"""
X86_NO_AES = """processor\t: 0
model name\t: QEMU Virtual CPU version 2.5+
flags\t\t: fpu vme de pse tsc msr pae mce sse sse2 ssse3 sse4_1 sse4_2 xsave avx
"""


@pytest.fixture
def cpuinfo(monkeypatch: pytest.MonkeyPatch):
    """Set what ``/proc/cpuinfo`` reads as; every other ``open`` is the real one."""
    real_open = builtins.open
    text: dict[str, str | None] = {"value": None}

    def fake_open(file, *args, **kwargs):
        if str(file) == "/proc/cpuinfo" and text["value"] is not None:
            return io.StringIO(text["value"])
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)

    def set_text(value: str) -> None:
        text["value"] = value

    return set_text


@pytest.mark.parametrize(("text", "aes"), [(PI4, False), (PI5, True), (X86_AES, True), (X86_NO_AES, False)])
def test_aes_is_read_from_the_cpu_flags(cpuinfo, text: str, aes: bool) -> None:
    cpuinfo(text)
    assert cpu_has_aes() is aes
    assert choose_cipher("auto") == ("aes-256-gcm" if aes else "chacha20-poly1305")


def test_a_word_containing_aes_is_not_the_flag(cpuinfo) -> None:
    cpuinfo("Features\t: fp asimd vaes_like aesx sha2\n")
    assert cpu_has_aes() is False


def test_an_explicit_cipher_wins_over_the_cpu(cpuinfo) -> None:
    cpuinfo(PI4)
    assert choose_cipher("aes-256-gcm") == "aes-256-gcm"
    cpuinfo(PI5)
    assert choose_cipher("chacha20-poly1305") == "chacha20-poly1305"


@pytest.mark.parametrize(("text", "cipher"), [(PI4, "chacha20-poly1305"), (PI5, "aes-256-gcm")])
def test_a_store_on_the_cpu_seals_its_dossiers_with_the_cpus_cipher(cpuinfo, tmp_path, text: str, cipher: str) -> None:
    cpuinfo(text)
    settings = make_settings(tmp_path / "box")
    assert settings.store.cipher == "auto"
    Store.init(settings, agency_code=AGENCY)
    with Store.open(settings) as store:
        assert store.cipher == cipher
        dossier_id, _ = store.ingest(procedure_code="1.001612", actor="test",
                                     applicant={"full_name": "Lê Văn Tám", "id_number": "079185009999"},
                                     pages=[PageSource(source=b"page one" * 1000, media_type="image/png")])
        assert store.query("SELECT cipher FROM dossiers WHERE id = ?", (dossier_id,)) == [{"cipher": cipher}]
        (page,) = store.pages(dossier_id)
        assert b"".join(store.read_page(dossier_id, page.index)) == b"page one" * 1000
