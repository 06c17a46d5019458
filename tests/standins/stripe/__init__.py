"""A local stand-in for the slice of Stripe the credits app uses.

It speaks Stripe's wire formats, so the production gateway (the official
``stripe`` library pointed here through ``base_addresses={"api": url}``) runs
unchanged against it:

* ``POST /v1/checkout/sessions`` – form-encoded, nested keys in bracket
  notation (``line_items[0][price_data][product_data][name]=...``), exactly as
  stripe-python's encoder sends them (``stripe/_encode.py``);
* ``GET /v1/checkout/sessions/<id>`` and ``POST /v1/checkout/sessions/<id>/expire``;
* refunds (``POST /v1/refunds``, sessions by payment intent, ``payment_intent``
  expansions): ``refunds.py``;
* errors as ``{"error": {"type", "code", "message", "param"}}`` with Stripe's
  status codes (https://docs.stripe.com/api/errors: 400 bad params, 401 bad
  key, 404 missing resource; ``type`` one of ``api_error``, ``card_error``,
  ``idempotency_error``, ``invalid_request_error``);
* ``Idempotency-Key`` on POST (https://docs.stripe.com/api/idempotent_requests):
  the first response of an endpoint that started executing is saved and
  replayed, with ``Idempotent-Replayed: true``, for the same key and the same
  parameters; the same key with other parameters or another endpoint is a 400
  of type ``idempotency_error``; requests that fail parameter validation (or
  authentication) save nothing and may be retried with the same key;
* a hosted checkout page at ``/pay/<id>`` whose "Pay" button completes the
  session, delivers a signed ``checkout.session.completed`` event to the
  configured webhook URL and 303-redirects to ``success_url`` with the literal
  ``{CHECKOUT_SESSION_ID}`` replaced by the session id
  (https://docs.stripe.com/payments/checkout/custom-success-page);
* webhook signatures ``Stripe-Signature: t=<ts>,v1=<hex>`` where ``<hex>`` is
  HMAC-SHA256 of ``"<ts>.<raw body>"`` under the endpoint secret
  (https://docs.stripe.com/webhooks#verify-manually; the same computation as
  ``stripe.WebhookSignature._compute_signature`` in stripe-python 16). Every
  delivery attempt, retries included, is signed with a fresh timestamp, as
  Stripe does.

Session objects carry the fields of the real Checkout Session object
(https://docs.stripe.com/api/checkout/sessions/object); ``url`` is only set
while the session is ``open`` and ``payment_intent`` only once it completed.

Subscription-mode Checkout, subscriptions, customers and invoices (and their
events) live in ``billing.py`` and ``billing_api.py``.

Test controls (all thread-safe): ``mark_paid``, ``expire``, ``sign``,
``event_for``, ``deliver``, ``charge_refunded``, ``fail_next``, ``requests``,
``deliveries``, ``wait_for_deliveries``, ``session``. The server binds
127.0.0.1 on a free port and stops itself after ``lifetime_s`` seconds.

Modules (one concern each; :class:`FakeStripe` is their mixins put together):

* ``server.py`` -- :class:`FakeStripe` (state, life cycle) and the HTTP handler;
* ``api.py`` -- authentication, routing, idempotency keys, injected faults;
* ``checkout.py`` -- ``POST /v1/checkout/sessions`` (parameter checks, the new session);
* ``sessions.py`` -- session state, completion and charge, retrieve/expire;
* ``refunds.py`` -- ``POST /v1/refunds``, ``payment_intent`` expansions;
* ``lists.py`` -- paginated lists and injected 429s (:func:`rate_limit`, :func:`set_created`);
* ``billing.py``, ``billing_api.py`` -- customers, subscriptions, invoices and their routes;
* ``webhooks.py`` -- events, signed delivery with retries, and :class:`WebhookSink`;
* ``page.py`` -- the hosted checkout page;
* ``errors.py``, ``forms.py``, ``objects.py`` -- Stripe's error shape, form-encoded
  parameters, ids and amounts.
"""

from .billing import add_month
from .lists import rate_limit, set_created
from .server import FakeStripe
from .webhooks import WebhookSink

__all__ = ["FakeStripe", "WebhookSink", "add_month", "rate_limit", "set_created"]
