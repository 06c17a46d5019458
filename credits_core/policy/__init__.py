"""Pure policy: the credit rules of SPEC §4 as functions of (state, input, time).

No I/O and no clock reads: every function takes the user's derived
:class:`~credits_core.models.Account`, the registry and ``now``, and returns
the rows to append plus the answer. The service runs them inside a store
transaction; tests run them directly.
"""

from .debits import decide_debit, replay_debit
from .grants import rollover_rows
from .ledger import Decision, Lookup
from .plans import plan_change_rows
from .refunds import refund_rows
from .stripe_refunds import ChargeState, Settlement, charge_refund_rows, settle_topup_rows
from .topups import adjust_rows, topup_rows

__all__ = [
    "ChargeState",
    "Decision",
    "Lookup",
    "Settlement",
    "adjust_rows",
    "charge_refund_rows",
    "decide_debit",
    "plan_change_rows",
    "refund_rows",
    "replay_debit",
    "rollover_rows",
    "settle_topup_rows",
    "topup_rows",
]
