"""The hosted checkout page at ``/pay/<id>``.

Its "Pay" button completes the session, delivers a signed
``checkout.session.completed`` event to the configured webhook URL and
303-redirects to ``success_url`` with the literal ``{CHECKOUT_SESSION_ID}``
replaced by the session id
(https://docs.stripe.com/payments/checkout/custom-success-page).
"""

from __future__ import annotations

import html
import re
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .objects import format_amount

if TYPE_CHECKING:
    from .sessions import SessionRecord

PAY_PATH = "/pay"
PAY_PATH_RE = re.compile(rf"^{PAY_PATH}/([^/]+)$")


class HostedPageMixin:
    """The hosted checkout page of :class:`~.server.FakeStripe`."""

    # Provided by FakeStripe.
    _lock: threading.RLock
    _log: list[dict[str, Any]]

    def _log_page(self, method: str, path: str) -> None:
        entry = {"method": method, "path": path, "params": {}, "data": {}, "idempotency_key": None}
        entry.update(authorized=False, replayed=False, fault=None, status=None)
        with self._lock:
            self._log.append(entry)

    def _page(self, method: str, session_id: str, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            try:
                rec = self._get(session_id)
            except KeyError:
                return 404, _html("Not found", "<p>This checkout page does not exist.</p>"), {}
            obj = rec.obj
            if method == "POST":
                if obj["status"] == "expired":
                    return 410, _html("Expired", "<p>This Checkout Session has expired.</p>"), {}
                first = obj["status"] == "open"
                if first:
                    form = dict(parse_qsl(body.decode("utf-8", "replace")))
                    self._complete(rec, "paid" if obj["amount_total"] else "no_payment_required", form.get("email"))
                target = obj["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
            else:
                target = None
                page = self._render(rec)
        if method == "POST":
            if first:
                self._deliver_all_in_background(
                    [*self._pay_events(rec), self._event("checkout.session.completed", session_id)]
                )
            return 303, b"", {"Location": target or "/"}
        return (410 if rec.obj["status"] == "expired" else 200), page, {}

    def _render(self, rec: SessionRecord) -> bytes:
        obj = rec.obj
        esc = html.escape
        if obj["status"] == "expired":
            return _html("Expired", '<p data-testid="expired">This Checkout Session has expired.</p>')
        rows = "".join(
            f'<tr data-testid="line-item"><td class="name">{esc(str(i["description"]))}</td>'
            f'<td class="qty">{i["quantity"]}</td>'
            f'<td class="amount">{esc(format_amount(i["amount_total"], i["currency"]))}{_per(i)}</td></tr>'
            for i in rec.line_items
        )
        total = esc(format_amount(obj["amount_total"] or 0, obj["currency"] or "usd"))
        verb = "Subscribe" if obj["mode"] == "subscription" else "Pay"
        cancel = (
            f'<a data-testid="cancel" href="{esc(obj["cancel_url"], quote=True)}">Cancel</a>'
            if obj["cancel_url"]
            else ""
        )
        if obj["status"] == "complete":
            action = '<p data-testid="paid">This Checkout Session is already paid.</p>'
        else:
            action = (
                f'<form method="post" action="{PAY_PATH}/{esc(obj["id"], quote=True)}">'
                f'<label>Email <input name="email" type="email" value="{esc(obj["customer_email"] or "", quote=True)}">'
                f'</label> <button data-testid="pay" type="submit">{verb} {total}</button></form>'
            )
        body = (
            f'<h1>Test mode checkout</h1><table>{rows}</table><p>Total due: <strong data-testid="total">{total}'
            f"</strong></p>{action}<p>{cancel}</p>"
        )
        return _html("Checkout", body)


def _per(item: dict[str, Any]) -> str:
    """`` / month`` after a recurring line's amount."""
    recurring = item["price"].get("recurring")
    return f" / {recurring['interval']}" if recurring else ""


def _html(title: str, body: str) -> bytes:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f"<body>{body}</body></html>"
    ).encode()
