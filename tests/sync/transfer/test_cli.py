"""``motcua transfer export / import / receipts`` and ``motcua sync status --json`` on real boxes."""

from __future__ import annotations

import json

from boxkit import add_dossier, hub_dossiers
from click.testing import CliRunner

from edge.cli import cli


def motcua(settings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--state-dir", str(settings.store.state_dir), *args])
    return result.exit_code, result.output


def test_the_story_through_the_command_line(hub, make_station, sticks):
    settings_a, box_a = make_station("MOBILE-01")
    settings_b, box_b = make_station("BRANCH-01")
    ids = [add_dossier(box_a, pages=1) for _ in range(2)]
    box_a.close()
    box_b.close()  # the commands open the stores themselves
    stick, back = sticks.make("dir"), sticks.make("dir")

    code, out = motcua(settings_a, "transfer", "export", "--to", str(stick), "--json")
    assert code == 0, out
    assert sorted(json.loads(out)["dossiers"]) == sorted(ids)
    code, out = motcua(settings_b, "transfer", "import", str(stick), "--json")
    assert code == 0, out
    assert sorted(json.loads(out)["transfers"][0]["forwarded"]) == sorted(ids)
    assert set(hub_dossiers(hub)) == set(ids)

    code, out = motcua(settings_a, "sync", "status", "--json")
    assert json.loads(out)["pending"] == 2
    code, out = motcua(settings_b, "transfer", "receipts", "--to", str(back))
    assert code == 0 and "2 receipt(s)" in out, out
    code, out = motcua(settings_a, "transfer", "import", str(back), "--json")
    assert code == 0 and sorted(json.loads(out)["receipts_applied"]) == sorted(ids), out
    code, out = motcua(settings_a, "sync", "status", "--json")
    status = json.loads(out)
    assert status["pending"] == 0 and status["counts"] == {"confirmed": 2}


def test_clear_refusals(hub, make_station, sticks, tmp_path):
    settings_a, box_a = make_station("MOBILE-01")
    box_a.close()
    empty = sticks.make("dir")
    code, out = motcua(settings_a, "transfer", "export", "--to", str(empty))
    assert code == 1 and "Không có hồ sơ nào chờ gửi" in out
    code, out = motcua(settings_a, "transfer", "import", str(empty))
    assert code == 1 and "không chứa hồ sơ chuyển hay biên nhận" in out
    code, out = motcua(settings_a, "transfer", "export")
    assert code == 2 and "--to DIR" in out
