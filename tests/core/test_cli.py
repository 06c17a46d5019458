"""``python -m credits_core``: commands, CSV export, deterministic seeding, exit codes 0/1/2."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from credits_core.cli import main

ROOT = Path(__file__).resolve().parents[2]
END = "2026-03-20T10:00"


@pytest.fixture
def ledger(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "ledger.sqlite3"
    monkeypatch.setenv("CZ_LEDGER_PATH", str(path))
    monkeypatch.setenv("CZ_STARTER_PLAN", "base")  # a deployment that starts every user on a free Base plan
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse and bad usage
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def ledger_rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT name, user_id, kind, delta, included_delta, created_at, meta FROM ledger ORDER BY id"
        ).fetchall()


def test_state_debit_plan_topup_refund_tail(ledger, capsys):
    code, out, _ = run(capsys, "state", "u1")
    assert code == 0 and json.loads(out)["balance"] == {"total": 100, "included": 100, "purchased": 0}
    code, out, _ = run(capsys, "debit", "u1", "comps_report", "q-1")
    assert code == 0 and json.loads(out)["balance"]["total"] == 97 and json.loads(out)["replayed"] is False
    code, out, _ = run(capsys, "debit", "u1", "comps_report", "q-1")
    assert code == 0 and json.loads(out)["replayed"] is True
    code, out, _ = run(capsys, "plan", "u1", "intelligence", "--dry-run")
    assert code == 0 and json.loads(out)["dryRun"] is True and json.loads(out)["granted"] == 300
    code, out, _ = run(capsys, "plan", "u1", "intelligence")
    assert code == 0 and json.loads(out)["balance"]["total"] == 397
    code, out, _ = run(capsys, "topup", "u1", "pack_100", "cs_cli_1")
    assert code == 0 and json.loads(out)["balance"] == {"total": 497, "included": 397, "purchased": 100}
    code, out, _ = run(capsys, "refund", "q-1", "--reason", "timeout")
    assert code == 0 and json.loads(out)["row"]["meta"]["reason"] == "timeout"
    code, out, _ = run(capsys, "tail", "u1", "--limit", "2")
    assert code == 0 and [r["kind"] for r in json.loads(out)] == ["refund", "topup"]
    code, out, _ = run(capsys, "state", "u1", "--tail", "1")
    assert json.loads(out)["balance"]["total"] == 500 and len(json.loads(out)["ledgerTail"]) == 1


@pytest.mark.parametrize(
    ("argv", "env", "code_text"),
    [
        (["debit", "u1", "teleport", "q-1"], {}, "error: unknown_tool: unknown tool 'teleport'"),
        (
            ["debit", "u1", "portfolio_scan", "q-1"],
            {},
            "error: plan_required: Portfolio scan needs the Professional plan",
        ),
        (["debit", "u1", "ask_ai", "bad key"], {}, "error: invalid_key: idempotencyKey must be 1-200 characters"),
        (["plan", "u1", "gold"], {}, "error: unknown_plan: unknown plan 'gold'"),
        (["topup", "u1", "pack_1", "cs_1"], {}, "error: unknown_pack: unknown pack 'pack_1'"),
        (["refund", "never"], {}, "error: not_found: no debit with idempotencyKey 'never'"),
        (["state", "u1"], {"CZ_LEDGER": "mongo"}, "error: config_error: CZ_LEDGER must be"),
        (["state", "u1"], {"CZ_CREDITS_ENFORCE": "maybe"}, "error: config_error: CZ_CREDITS_ENFORCE must be 1 or 0"),
    ],
)
def test_credits_errors_exit_1_with_code_and_message(ledger, capsys, monkeypatch, argv, env, code_text):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.startswith(code_text), err
    assert "Traceback" not in err


def test_insufficient_credits_under_enforce_exits_1(ledger, capsys, monkeypatch):
    monkeypatch.setenv("CZ_CREDITS_ENFORCE", "1")
    for i in range(4):
        assert run(capsys, "debit", "u1", "ask_ai_deep", f"k{i}")[0] == 1  # plan_required on base
    run(capsys, "plan", "u1", "intelligence")
    for i in range(80):
        run(capsys, "debit", "u1", "ask_ai_deep", f"d{i}")  # 400 credits: 80 × 5
    code, _, err = run(capsys, "debit", "u1", "ask_ai_deep", "one-more")
    assert code == 1 and err.startswith("error: insufficient_credits: Ask AI — deep research costs 5 credits")


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["fly"],
        ["debit", "u1"],
        ["tail", "u1", "--limit", "many"],
        ["export", "--kind", "gift"],
        ["export", "--since", "yesterday"],
        ["seed-demo", "--end", "soon"],
    ],
)
def test_bad_usage_exits_2(ledger, capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert "error" in err or "usage" in err


def test_without_a_subscription_a_user_has_no_plan_and_no_grant(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CZ_LEDGER_PATH", str(tmp_path / "ledger.sqlite3"))
    code, out, _ = run(capsys, "state", "u1")
    state = json.loads(out)
    assert code == 0 and state["plan"] == "none" and state["balance"]["total"] == 0
    code, _, err = run(capsys, "debit", "u1", "portfolio_scan", "k1")
    assert code == 1 and "plan_required" in err and "no subscription" in err
    code, out, _ = run(capsys, "plan", "u1", "intelligence")  # the CLI is an operator's tool: it applies
    assert code == 0 and json.loads(out)["granted"] == 400


def test_export_csv(ledger, capsys, tmp_path):
    run(capsys, "debit", "alice", "ask_ai", "a1")
    run(capsys, "topup", "alice", "pack_100", "cs_1")
    run(capsys, "debit", "bob", "comps_report", "b1")
    code, out, _ = run(capsys, "export")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 5
    assert list(rows[0]) == [
        "createdAt",
        "name",
        "userId",
        "kind",
        "bucket",
        "delta",
        "includedDelta",
        "purchasedDelta",
        "meta",
    ]
    assert rows[0]["name"] == "CZ_SMCR|debit|b1" and rows[0]["delta"] == "-3"
    assert json.loads(rows[0]["meta"])["tool"] == "comps_report"
    code, out, _ = run(capsys, "export", "--user", "alice", "--kind", "topup", "--kind", "debit")
    assert [r["kind"] for r in csv.DictReader(io.StringIO(out))] == ["topup", "debit"]
    target = tmp_path / "out.csv"
    code, out, err = run(capsys, "export", "-o", str(target), "--since", "2000-01-01", "--until", "2999-01-01")
    assert code == 0 and out == "" and err.strip() == f"wrote 5 rows to {target}"
    assert len(list(csv.DictReader(target.open()))) == 5
    code, out, _ = run(capsys, "export", "--since", "2999-01-01")
    assert out.strip().count("\n") == 0  # the header only


def test_seed_demo_is_deterministic_for_a_seed(tmp_path, capsys, monkeypatch):
    def seed(name: str, seed: int) -> list[tuple]:
        path = tmp_path / name
        monkeypatch.setenv("CZ_LEDGER_PATH", str(path))
        code, out, _ = run(capsys, "seed-demo", "--users", "3", "--months", "2", "--seed", str(seed), "--end", END)
        assert code == 0 and out.startswith("seeded 3 users over 2 months")
        return ledger_rows(path)

    first, again, other = seed("a.sqlite3", 11), seed("b.sqlite3", 11), seed("c.sqlite3", 12)
    assert len(first) > 50
    assert first == again
    assert first != other
    kinds = {row[2] for row in first}
    assert {"grant", "debit"} <= kinds
    assert max(row[5] for row in first) <= "2026-03-20 10:00:00.000000"
    monkeypatch.setenv("CZ_LEDGER_PATH", str(tmp_path / "a.sqlite3"))
    code, out, _ = run(capsys, "seed-demo", "--if-empty", "--users", "3", "--months", "2", "--seed", "11")
    assert code == 0 and "skipping" in out
    assert ledger_rows(tmp_path / "a.sqlite3") == first


def test_the_module_entry_point_exit_codes(ledger):
    env = {"CZ_LEDGER_PATH": str(ledger), "CZ_STARTER_PLAN": "base", "PATH": "/usr/bin:/bin"}

    def cli(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "credits_core", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )

    ok, failed, usage = cli("debit", "u1", "ask_ai", "k1"), cli("debit", "u1", "nope", "k2"), cli("debit")
    assert (ok.returncode, failed.returncode, usage.returncode) == (0, 1, 2)
    assert json.loads(ok.stdout)["balance"]["total"] == 99
    assert failed.stderr.strip() == "error: unknown_tool: unknown tool 'nope'"
    assert "usage:" in usage.stderr


def test_hold_settle_release_print_receipts(ledger, capsys):
    code, out, _ = run(capsys, "hold", "u1", "comps_report", "h-1", "--units", "2")
    assert code == 0 and json.loads(out)["held"] == 6 and json.loads(out)["available"] == 94
    code, out, _ = run(capsys, "settle", "u1", "h-1", "1")
    receipt = json.loads(out)["receipt"]
    assert code == 0 and (receipt["reserved"], receipt["charged"], receipt["released"]) == (6, 3, 3)
    code, out, _ = run(capsys, "tail", "u1", "--limit", "1")
    assert json.loads(out)[0]["receipt"] == receipt
    run(capsys, "hold", "u1", "comps_report", "h-2")
    code, out, _ = run(capsys, "release", "u1", "h-2")
    assert code == 0 and json.loads(out)["status"] == "released"
    code, _, err = run(capsys, "settle", "u1", "h-2", "1")
    assert code == 1 and "hold_closed" in err
