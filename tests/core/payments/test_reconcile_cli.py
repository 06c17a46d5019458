"""``credits reconcile`` against the stand-in: report, repair once, exit codes, Stripe down."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from credits_core.cli import main
from tests.core.payments.support import App, gateway_for
from tests.standins.stripe import FakeStripe


@pytest.fixture
def fake(tmp_path, monkeypatch) -> Iterator[FakeStripe]:
    with FakeStripe(lifetime_s=120) as f:
        monkeypatch.setenv("CZ_LEDGER_PATH", str(tmp_path / "ledger.sqlite3"))
        monkeypatch.setenv("STRIPE_SECRET_KEY", f.secret_key)
        monkeypatch.setenv("STRIPE_API_BASE", f.url)
        monkeypatch.setenv("CZ_PUBLIC_APP_URL", "https://app.example.test")
        yield f


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_reconcile_then_repair_once(fake: FakeStripe, capsys):
    sid = App(None, gateway_for(fake), fake).buy("u_cli")  # type: ignore[arg-type]
    code, out, _ = cli(capsys, "reconcile")
    assert code == 3 and "paid_not_credited" in out and sid in out and f"CZ_SMCR|topup|{sid}" in out
    code, out, _ = cli(capsys, "reconcile", "--repair")
    assert code == 0 and f"{sid}: credited" in out
    code, out, _ = cli(capsys, "reconcile", "--repair", "--json")
    report = json.loads(out)
    assert code == 0 and report["drift"] == [] and report["repairs"] == [] and report["checked"]["paidSessions"] == 1
    assert cli(capsys, "state", "u_cli")[0] == 0


def test_reconcile_with_stripe_down_says_so_and_writes_nothing(fake: FakeStripe, capsys, tmp_path):
    App(None, gateway_for(fake), fake).buy("u_down")  # type: ignore[arg-type]
    fake.fail_next(10, 500)
    code, _, err = cli(capsys, "reconcile", "--repair")
    assert code == 1 and err.startswith("error: payment_provider_error: ") and "list checkout sessions" in err
    assert "Traceback" not in err and fake.secret_key not in err
    assert not (tmp_path / "ledger.sqlite3").exists() or "u_down" not in (tmp_path / "ledger.sqlite3").read_bytes().decode("latin-1")


def test_reconcile_without_stripe_keys(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CZ_LEDGER_PATH", str(tmp_path / "ledger.sqlite3"))
    code, _, err = cli(capsys, "reconcile")
    assert code == 1 and "payments_disabled" in err and "STRIPE_SECRET_KEY" in err
