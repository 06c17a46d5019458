"""The state machine: random operations through the service on several stores in lockstep.

Every step runs on every store of a subclass (``open_stores``; the first is
the reference), on the same injected clock and registry, and must give the
same answer on each; the answers are also predicted from the reference's
rows. After every step the invariants of ``model.py`` are re-checked from the
rows of every ledger, and each store's own account must equal the rows' sum.
The rules live in ``ledger_rules.py`` and ``hold_rules.py``; the clock and
state-read rules, the step plumbing and the invariant here.
"""

from __future__ import annotations

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from credits_core import CreditsService, FixedClock
from credits_core.clock import add_months, month_of
from credits_core.errors import CreditsError
from credits_core.models import Account, Row
from credits_core.policy import rollover_rows
from credits_core.policy.holds import expiry_rows
from credits_core.registry import MemoryRegistryRepository
from credits_core.stores import LedgerStore
from tests.core.conftest import T0
from tests.core.state_machine.hold_rules import HoldRules
from tests.core.state_machine.ledger_rules import LedgerRules
from tests.core.state_machine.model import STARTS, USERS, FirstAnswers, Outcome, check_ledger
from tests.core.support import assert_consistent, user_rows


class LedgerMachine(LedgerRules, HoldRules, RuleBasedStateMachine):
    """The rules; a subclass names the stores (``open_stores``) and may check its own (``check_store``)."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FixedClock(T0)
        self.registries = MemoryRegistryRepository()
        self.services = [CreditsService(s, self.registries, clock=self.clock) for s in self.open_stores()]
        self.seen = FirstAnswers()
        self.keys: list[str] = []  # every debit key ever sent (also refused ones)
        self.enforced: set[str] = set()  # rows written while the service enforced the balance
        self.counter = 0

    def open_stores(self) -> list[LedgerStore]:
        """Fresh, empty stores; the first is the reference the others are compared with."""
        raise NotImplementedError

    def check_store(self, svc: CreditsService, rows: list[Row], derived: dict[str, Account]) -> None:
        """Store-specific checks after every step (``rows``: the reference ledger, newest first; each user's sum)."""

    def teardown(self) -> None:
        for svc in self.services:
            svc.store.close()

    # -- helpers -----------------------------------------------------------------
    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    @property
    def reference(self) -> CreditsService:
        return self.services[0]

    def derived(self, user: str) -> Account:
        """The user's account as the reference ledger's rows add up (never a store's cached account)."""
        return Account(user).with_rows(user_rows(self.reference.store, user))

    def rolled(self, user: str) -> Account:
        """The user's account with pending grants and expiries applied (what an operation starts from)."""
        acc = self.derived(user)
        acc = acc.with_rows(rollover_rows(acc, self.registries.current(), self.clock.now()))
        return acc.with_rows(expiry_rows(acc, self.clock.now()))

    def set_enforce(self, enforce: bool) -> None:
        for svc in self.services:
            svc.enforce = enforce

    def both(self, call) -> Outcome:
        """Run ``call(service)`` on every store; same answer everywhere; an error writes nothing."""
        outcomes = []
        for svc in self.services:
            before = svc.store.rows()
            if svc is self.reference:
                written = {r.name for r in before}
            try:
                outcomes.append(Outcome(result=call(svc)))
            except CreditsError as exc:
                assert svc.store.rows() == before, f"{exc.code} wrote rows on {type(svc.store).__name__}"
                outcomes.append(Outcome(error=exc))
        if self.reference.enforce:
            self.enforced |= {r.name for r in self.reference.store.rows()} - written
        first = outcomes[0]
        for svc, other in zip(self.services[1:], outcomes[1:], strict=True):
            assert other.key() == first.key(), f"{type(svc.store).__name__} disagrees: {first.key()} vs {other.key()}"
        return first

    # -- clock and reads ------------------------------------------------------------
    @initialize(start=st.sampled_from(STARTS))
    def start_at(self, start) -> None:
        self.clock.at = start

    @rule(minutes=st.integers(1, 20))
    def advance_minutes(self, minutes: int) -> None:
        self.clock.tick(minutes=minutes)

    @rule(user=st.sampled_from(USERS))
    def state(self, user: str) -> None:
        expected = self.rolled(user)
        out = self.both(lambda svc: svc.state(user, tail=5))
        assert out.result.balance == expected.balance
        assert out.result.available == max(0, expected.balance.total - expected.held)
        assert out.result.month == month_of(self.clock.now())

    @rule(days=st.integers(0, 20), hours=st.integers(0, 23))
    def advance_days(self, days: int, hours: int) -> None:
        self.clock.tick(days=days, hours=hours)

    @rule(months=st.integers(1, 4), touch=st.sampled_from((None, *USERS)))
    def advance_months(self, months: int, touch: str | None) -> None:
        self.clock.at = add_months(self.clock.now(), months)
        if touch:
            state = self.both(lambda svc: svc.state(touch, tail=0)).result
            assert state.balance.included <= state.soft_cap  # right after the rollover

    # -- invariants --------------------------------------------------------------
    @invariant()
    def ledgers_agree_and_hold_the_rules(self) -> None:
        reference = self.reference.store.rows()
        derived = check_ledger(reference, self.clock.now(), self.enforced)
        if any(r.kind == "release" and r.meta["reason"] == "expired" for r in reference):
            event("expiry: a hold past its TTL released by a row")
        self.seen.check(reference)
        for svc in self.services:
            name = type(svc.store).__name__
            rows = svc.store.rows()
            assert rows == reference, f"{name} and the reference ledger differ"
            for user, acc in derived.items():
                assert assert_consistent(svc.store, user) == acc, f"{name}: {user}'s account is not its rows' sum"
            assert sorted(svc.store.accounts(), key=lambda a: a.user_id) == sorted(
                derived.values(), key=lambda a: a.user_id
            ), f"{name}: accounts() differ from the rows"
            self.check_store(svc, reference, derived)


def machine_settings(*, max_examples: int, steps: int) -> settings:
    """Settings of a machine's ``TestCase``: no deadline and no too-slow health check (loaded machines)."""
    return settings(
        max_examples=max_examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
