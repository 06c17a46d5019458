"""Rules of the ledger verbs: debit, refund, plan change, top-up, ops adjustment, registry reprice.

Mixed into :class:`~tests.core.state_machine.machine.LedgerMachine`, which
provides ``both`` (one call on every store, same answer), ``rolled`` and
``derived`` (the account from the reference's rows), ``seen`` (first answers)
and the clock. Each rule predicts the answer from the rows before the call.
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import rule

from credits_core.models import Balance
from credits_core.policy.grants import current_plan
from tests.core.state_machine.model import CAP, PACKS, PLANS, TOOLS, USERS


class LedgerRules:
    """Rules over debits, refunds, plans, top-ups, adjustments and prices (see module docstring)."""

    @rule(
        user=st.sampled_from(USERS),
        tool=st.sampled_from(TOOLS),
        reuse=st.booleans(),
        pick=st.integers(0, 10_000),
        enforce=st.booleans(),
    )
    def debit(self, user: str, tool: str, reuse: bool, pick: int, enforce: bool) -> None:
        key = self.keys[pick % len(self.keys)] if reuse and self.keys else self.fresh("k")
        if key not in self.keys:
            self.keys.append(key)
        self.set_enforce(enforce)
        reg, acc = self.registries.current(), self.rolled(user)
        out = self.both(lambda svc: svc.debit(user, tool, key))
        if key in self.seen.debits:
            first_user, first_tool, first = self.seen.debits[key]
            if first_user != user:
                assert (out.code, out.error.details) == ("idempotency_conflict", {"field": "userId"})
            elif first_tool != tool:
                assert (out.code, out.error.details) == ("idempotency_conflict", {"field": "tool"})
            else:
                assert out.result.replayed and out.result.row == first.row and out.result.balance == first.balance
            return
        if tool == "no_such_tool":
            assert out.code == "unknown_tool"
            return
        spec = reg.tool(tool)
        plan = current_plan(acc, reg)
        if spec.min_plan and reg.plan(spec.min_plan).rank > plan.rank:
            assert out.code == "plan_required"
            return
        bal = acc.balance
        if spec.credits <= bal.total - acc.held:
            inc = min(spec.credits, bal.included)
            assert out.result.balance == Balance(bal.included - inc, bal.purchased - spec.credits + inc)
            assert (out.result.row.delta, out.result.row.included_delta) == (-spec.credits, -inc)
        elif enforce:
            assert out.code == "insufficient_credits"
            assert out.error.details["required"] == spec.credits
            assert out.error.details["balance"] == bal.to_dict()
            return
        else:
            assert out.result.row.delta == 0 and out.result.row.meta["shortfall"] == spec.credits
            assert out.result.balance == bal and out.result.warning
        assert not out.result.replayed
        assert self.derived(user).balance == out.result.balance
        self.seen.debits[key] = (user, tool, out.result)

    @rule(pick=st.integers(0, 10_000), unknown=st.booleans(), reason=st.text(max_size=5))
    def refund(self, pick: int, unknown: bool, reason: str) -> None:
        key = self.fresh("never") if unknown or not self.keys else self.keys[pick % len(self.keys)]
        if key not in self.seen.debits:
            out = self.both(lambda svc: svc.refund(key, reason))
            assert out.code == "not_found"
            return
        user, _tool, first = self.seen.debits[key]
        before = self.rolled(user).balance
        out = self.both(lambda svc: svc.refund(key, reason))
        if key in self.seen.refunds:
            assert out.result.replayed and out.result.row == self.seen.refunds[key].row
            assert out.result.balance == self.seen.refunds[key].balance
            return
        debit_row = first.row
        assert (out.result.row.delta, out.result.row.included_delta) == (-debit_row.delta, -debit_row.included_delta)
        assert out.result.balance == Balance(
            before.included - debit_row.included_delta, before.purchased - debit_row.purchased_delta
        )
        self.seen.refunds[key] = out.result

    @rule(user=st.sampled_from(USERS), plan=st.sampled_from(PLANS), dry_run=st.booleans(), then_real=st.booleans())
    def change_plan(self, user: str, plan: str, dry_run: bool, then_real: bool) -> None:
        acc = self.rolled(user)
        before = [svc.store.rows() for svc in self.services]
        preview = None
        request_id = self.fresh("req")
        if dry_run:
            preview = self.both(lambda svc: svc.change_plan(user, plan, dry_run=True, request_id=request_id)).result
            assert [svc.store.rows() for svc in self.services] == before, "a dry run wrote rows"
            if not then_real:
                return
        change = self.both(lambda svc: svc.change_plan(user, plan, request_id=request_id)).result
        old = current_plan(acc, self.registries.current())
        assert change.previous_plan == old.id and change.plan == plan
        if plan != old.id:
            assert change.trimmed == max(0, acc.balance.included - CAP[plan])
        assert change.balance.purchased == acc.balance.purchased  # never trimmed
        assert change.balance == self.derived(user).balance
        assert self.reference.state(user, tail=0, read_only=True).plan == plan
        if preview is not None:
            got = (change.granted, change.trimmed, change.balance, [(r.kind, r.delta) for r in change.rows])
            want = (preview.granted, preview.trimmed, preview.balance, [(r.kind, r.delta) for r in preview.rows])
            assert got == want

    @rule(user=st.sampled_from(USERS), pack=st.sampled_from(PACKS), reuse=st.booleans(), pick=st.integers(0, 10_000))
    def top_up(self, user: str, pack: str, reuse: bool, pick: int) -> None:
        refs = list(self.seen.sessions)
        ref = refs[pick % len(refs)] if reuse and refs else self.fresh("cs")
        before = self.rolled(user).balance
        out = self.both(lambda svc: svc.top_up(user, pack, ref))
        if ref in self.seen.sessions:
            owner, first = self.seen.sessions[ref]
            if owner != user:
                assert out.code == "idempotency_conflict"
            else:
                assert out.result.replayed and out.result.row == first.row
            return
        credits = self.registries.current().pack(pack).credits
        assert out.result.balance == Balance(before.included, before.purchased + credits)
        self.seen.sessions[ref] = (user, out.result)

    @rule(
        user=st.sampled_from(USERS),
        delta=st.integers(-400, 400),
        bucket=st.sampled_from(("included", "purchased")),
        reuse=st.booleans(),
    )
    def adjust(self, user: str, delta: int, bucket: str, reuse: bool) -> None:
        mine = [k for k, (u, _) in self.seen.adjusts.items() if u == user]
        key = mine[0] if reuse and mine else self.fresh("adj")
        before = self.rolled(user).balance
        out = self.both(lambda svc: svc.adjust(user, key, delta, bucket, "state machine"))
        if key in self.seen.adjusts:
            assert out.result.replayed and out.result.row == self.seen.adjusts[key][1].row
            return
        inc = delta if bucket == "included" else 0
        after = Balance(before.included + inc, before.purchased + delta - inc)
        if after.included < 0 or after.purchased < 0:
            assert out.code == "bad_request"
            return
        assert out.result.balance == after
        self.seen.adjusts[key] = (user, out.result)

    @rule(tool=st.sampled_from(TOOLS[:-1]), credits=st.integers(0, 40))
    def reprice(self, tool: str, credits: int) -> None:
        doc = self.registries.current().to_json()
        for item in doc["tools"]:
            if item["id"] == tool:
                item["credits"] = credits
        self.registries.save(doc)
