"""Chained exports: an untouched file verifies; each kind of tampering is caught at its row."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest

from credits_core import CreditsService
from credits_core.cli import main
from credits_core.export import GENESIS, canonical, export_chain, link, verify_chain
from credits_core.models import KINDS, LEDGER_USER
from tests.ledgers import Ledger


def history(service: CreditsService, users: int = 3) -> None:
    for u in range(users):
        user = f"user_{u}"
        service.top_up(user, "pack_100", f"ref-{u}")
        for k in range(4):
            service.debit(user, "ask_ai", f"q-{u}-{k}")
        service.refund(f"q-{u}-0", "failed")


def exported(service: CreditsService) -> list[bytes]:
    buf = io.BytesIO()
    export_chain(service, buf)
    return buf.getvalue().splitlines(keepends=True)


def verify(service: CreditsService, lines: list[bytes]):
    return verify_chain(lines, service.find_row)


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request: pytest.FixtureRequest, make_ledger: Callable[..., Ledger]) -> CreditsService:
    service = make_ledger(request.param).service
    history(service)
    return service


def test_checkpoint_is_a_kind_with_delta_zero():
    assert "checkpoint" in KINDS


def test_untouched_export_verifies_and_writes_a_checkpoint(ledger: CreditsService):
    rows_before = sum(1 for _ in ledger.iter_rows())
    lines = exported(ledger)
    header, head = json.loads(lines[0]), json.loads(lines[-1])
    assert len(lines) == rows_before + 2 and head["rows"] == rows_before
    cp = ledger.find_row(header["checkpoint"])
    assert cp is not None and cp.kind == "checkpoint" and cp.delta == 0 and cp.user_id == LEDGER_USER
    assert cp.name.startswith("CZ_SMCR|checkpoint|") and cp.meta["head"] == head["head"]
    assert cp.meta["rows"] == rows_before
    verdict = verify(ledger, lines)
    assert verdict.ok, verdict.message
    assert verdict.rows == rows_before and verdict.head == head["head"]
    # The canonical form: sorted keys, compact, the previous hash then a newline.
    first = json.loads(lines[1])
    stored = first.pop("hash")
    assert stored == link(GENESIS, canonical(first)) and canonical(first).startswith(b'{"createdAt":')
    # A second export chains the first checkpoint too, and both verify.
    again = exported(ledger)
    assert json.loads(again[-1])["rows"] == rows_before + 1 and verify(ledger, again).ok
    assert verify(ledger, lines).ok, "an older export still verifies against its own checkpoint"
    assert LEDGER_USER not in set(ledger.balances()["userId"]), "the ledger's own rows are no account"


def edit_delta(lines: list[bytes], i: int) -> list[bytes]:
    rec = json.loads(lines[i + 1])
    rec["delta"] += 5
    return [*lines[: i + 1], json.dumps(rec).encode() + b"\n", *lines[i + 2 :]]


@pytest.mark.parametrize(
    ("tamper", "kind", "index"),
    [
        (lambda ls: edit_delta(ls, 4), "edited", 4),
        (lambda ls: [*ls[:4], ls[5], ls[4], *ls[6:]], "reordered", 3),
        (lambda ls: [*ls[:6], *ls[7:]], "removed", 5),
        (lambda ls: [*ls[:3], ls[2].replace(b'"name":"', b'"name":"X'), *ls[3:]], "added", 2),
        (lambda ls: ls[:-4], "truncated", None),  # the last three rows and the head line cut
        (lambda ls: ls[:-1], "truncated", None),  # only the head line cut
    ],
    ids=["edited-delta", "swapped-pair", "deleted-row", "inserted-row", "truncated-tail", "head-line-cut"],
)
def test_tampering_is_caught_at_the_right_row(ledger: CreditsService, tamper, kind: str, index: int | None):
    lines = exported(ledger)
    n = json.loads(lines[-1])["rows"]
    verdict = verify(ledger, tamper(lines))
    assert not verdict.ok and verdict.kind == kind, verdict
    expected = index if index is not None else (n - 3 if len(tamper(lines)) < len(lines) - 1 else n)
    assert verdict.index == expected, verdict.message
    assert verdict.checkpoint_rows == n and verdict.checkpoint == json.loads(lines[0])["checkpoint"]


def test_a_rehashed_file_disagrees_with_the_checkpoint(ledger: CreditsService):
    lines = exported(ledger)
    recs = [json.loads(x) for x in lines[1:-1]]
    recs[2]["delta"] -= 1
    prev, out = GENESIS, [lines[0]]
    for rec in recs:  # an attacker recomputes every hash after the edit
        rec.pop("hash")
        prev = link(prev, canonical(rec))
        out.append(json.dumps({**rec, "hash": prev}).encode() + b"\n")
    out.append(json.dumps({**json.loads(lines[-1]), "head": prev}).encode() + b"\n")
    verdict = verify(ledger, out)
    assert not verdict.ok and verdict.kind == "rewritten"


def test_an_export_of_another_ledger_has_no_checkpoint_here(ledger: CreditsService, make_ledger):
    other = make_ledger("memory").service
    history(other, users=1)
    verdict = verify(ledger, exported(other))
    assert not verdict.ok and verdict.kind == "no_checkpoint"


def test_cli_export_chain_and_verify(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CZ_LEDGER_PATH", str(tmp_path / "ledger.sqlite3"))
    monkeypatch.setenv("CZ_STARTER_PLAN", "base")
    assert main(["debit", "cli_user", "ask_ai", "k-1"]) == 0
    target = tmp_path / "chain.jsonl"
    assert main(["export", "--chain", str(target)]) == 0
    assert "checkpoint CZ_SMCR|checkpoint|" in capsys.readouterr().err
    assert main(["verify", str(target)]) == 0
    assert capsys.readouterr().out.startswith("OK: 2 rows")
    lines = target.read_bytes().splitlines(keepends=True)
    target.write_bytes(b"".join(edit_delta(lines, 1)))
    assert main(["verify", str(target)]) == 3
    out = capsys.readouterr().out
    assert "FAILED: edited: row #1" in out and "checkpoint CZ_SMCR|checkpoint|" in out and "over 2 rows" in out
    assert main(["export", "--chain", str(target), "--user", "x"]) == 2
    assert main(["export", "--chain", str(tmp_path / "no" / "such" / "dir.jsonl")]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert main(["verify", str(tmp_path / "missing.jsonl")]) == 2
