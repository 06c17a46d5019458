"""A bad configuration stops `streamlit run app.py` at start with one line naming the variable."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.servers import ROOT, STREAMLIT, free_port

CASES = {
    "odoo without its variables": ({"CZ_LEDGER": "odoo"}, "ODOO_URL"),
    "odoo unreachable": (
        {
            "CZ_LEDGER": "odoo",
            "ODOO_URL": "http://127.0.0.1:9",
            "ODOO_DB": "d",
            "ODOO_USERNAME": "u",
            "ODOO_API_KEY": "secret-odoo-key-1234",
        },
        "ODOO_URL",
    ),
    "unwritable ledger path": ({"CZ_LEDGER_PATH": "/proc/no-such-dir/ledger.sqlite3"}, "CZ_LEDGER_PATH"),
    "enforce flag": ({"CZ_CREDITS_ENFORCE": "sometimes"}, "CZ_CREDITS_ENFORCE"),
    "stripe key": ({"STRIPE_SECRET_KEY": "pk_live_wrong_kind_of_key"}, "STRIPE_SECRET_KEY"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_configuration_is_a_start_up_error_naming_the_variable(case: str, tmp_path) -> None:
    env_extra, variable = CASES[case]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CZ_", "ODOO_", "CLERK_", "STRIPE_"))}
    env.setdefault("CZ_LEDGER_PATH", str(tmp_path / "ledger.sqlite3"))
    env.update(env_extra)
    cmd = [
        str(STREAMLIT),
        "run",
        str(ROOT / "app.py"),
        "--server.port",
        str(free_port()),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
    ]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert f"configuration error: {variable}" in output or (variable in output and "configuration error" in output)
    assert "Traceback" not in output
    for value in env_extra.values():
        if "secret" in value or value.startswith("pk_"):
            assert value not in output
