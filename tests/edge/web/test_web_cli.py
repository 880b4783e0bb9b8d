"""``motcua user add|list`` against a real store."""

from __future__ import annotations

import json

from click.testing import CliRunner
from web_helpers import AGENCY, make_settings

from edge.cli._main import cli
from edge.store import Store
from edge.web import accounts


def test_user_add_and_list(tmp_path):
    settings = make_settings(tmp_path)
    Store.init(settings, agency_code=AGENCY, demo_key_out=tmp_path / "city.json")
    state = str(tmp_path / "state")
    runner = CliRunner()
    result = runner.invoke(cli, ["--state-dir", state, "user", "add", "lan", "--role", "supervisor",
                                 "--name", "Phạm Thị Lan", "--password-stdin"], input="mat-khau-9\n")
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["--state-dir", state, "user", "add", "x", "--role", "clerk", "--password-stdin"],
                           input="123\n")
    assert result.exit_code != 0
    result = runner.invoke(cli, ["--state-dir", state, "user", "list", "--json"])
    listed = json.loads(result.output)
    assert [(a["username"], a["role"], a["display_name"]) for a in listed] == [("lan", "supervisor", "Phạm Thị Lan")]
    with Store.open(settings) as store:
        assert accounts.authenticate(store, "lan", "mat-khau-9", max_attempts=3, lockout_minutes=1).role == "supervisor"
        assert "mat-khau-9" not in json.dumps(store.query("SELECT * FROM web_accounts"))
