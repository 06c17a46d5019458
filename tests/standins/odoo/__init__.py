"""A local stand-in for an Odoo 19 server, limited to ``crm.lead``.

It speaks the three wire formats a client of Odoo 19 meets, over real HTTP:

* ``GET /web/version``;
* legacy ``POST /jsonrpc`` (JSON-RPC 2.0, services ``common``, ``object``, ``db``);
* JSON-2 ``POST /json/2/<model>/<method>`` with a bearer API key.

and keeps ``crm.lead`` rows in memory (one lock, one snapshot per request, so a
failing request changes nothing). Faults can be injected at run time.

What the shapes are based on (public sources, read with the search tool; Odoo
``19.0`` unless said otherwise):

* ``addons/web/controllers/json2.py`` (odoo/odoo): JSON-2 dispatch. The body is
  merged into the route params with ``dict |=`` (bad JSON or a non-mapping gives
  400), ``inspect.signature(...).bind`` errors give 422, ``ids`` on an
  ``@api.model`` method gives 422, unknown model/method 404, non-POST 405; errors
  are ``http.serialize_exception(exc)`` with status ``exc.http_status`` for a
  ``UserError``, ``exc.code`` for a werkzeug ``HTTPException`` and 500 for
  anything else (so ``ValueError("Invalid field ...")`` is a 500).
* ``odoo/http.py``: ``serialize_exception`` -> ``{name, message, arguments,
  context, debug}``; ``JsonRPCDispatcher.handle_error`` -> ``{"code": 0,
  "message": "Odoo Server Error", "data": ...}`` (``code`` 404 for NotFound,
  100 for SessionExpired), always HTTP 200; invalid JSON -> 400 "Invalid JSON
  data"; a request whose Content-Type no dispatcher of the route accepts -> 415
  (werkzeug HTML page), checked before authentication.
* ``odoo/addons/base/models/ir_http.py`` ``_auth_method_bearer``: 401 with
  ``Invalid apikey`` or ``User not authenticated, use an API Key with a Bearer
  Authorization header.`` and ``WWW-Authenticate: bearer``; the scheme is matched
  case-insensitively.
* ``odoo/exceptions.py``: ``UserError``/``ValidationError`` 422, ``AccessError``
  and ``AccessDenied`` 403, ``MissingError`` 404.
* ``odoo/service/common.py``: ``exp_version`` returns ``RPC_VERSION_1`` =
  ``server_version``, ``server_version_info``, ``server_serie``,
  ``protocol_version: 1``; ``exp_authenticate`` opens ``Registry(db)`` (so an
  unknown database is a ``psycopg2.OperationalError``) and returns ``False`` on
  ``AccessDenied``.
* ``odoo/orm/models.py``: ``ValueError(f"Invalid field {name!r} in
  {self._name!r}")`` in create/write, ``... on {self._name!r}`` in read; legacy
  ``read_group`` (deprecated in 19.0) keys ``<field>_count`` when lazy with one
  group-by, else ``__count``, and ``__domain`` = request domain AND group
  condition; ``formatted_read_group(domain, groupby=(), aggregates=(),
  having=(), offset=0, limit=None, order=None)`` rows are ``{spec: value,
  "field:agg": value, "__extra_domain": [...]}`` (``[(1, "=", 1)]`` without
  group-by, date groups as ``(start, label)``) -- see
  ``odoo/addons/test_read_group/tests``.
* ``addons/crm/models/crm_lead.py``: field subset, types, defaults and indexes
  (``name``, ``partner_name``, ``contact_name``, ``email_from``,
  ``email_normalized`` trigram; ``type``, ``priority``, ``user_id`` btree; a
  composite ``(create_date, team_id)``); ``_order = "priority desc, id desc"``;
  ``probability`` aggregates with ``avg``. There is no ``ref`` and no
  ``mobile`` in this subset, and ``lang_code`` is a non-stored related field
  (writes are lost).
* ``/work/shared/ODOO_NOTES.md``: observed behaviour (type defaults to
  opportunity, html rewriting, MissingError text, 422 for a list body).

Deliberate simplifications: one company, one currency (monetary rounded to
0.01), no timezone conversion (everything UTC), no access rules, Python string
ordering instead of a database collation, HTML sanitising approximated.

Modules (one concern each):

* ``server.py`` -- :class:`FakeOdoo` (life cycle, knobs, inspection, the request
  pipeline: count, delay, fault, answer) and the loopback HTTP server/handler;
* ``app.py`` -- ``OdooApp``: routing of ``/web/version``, ``/jsonrpc`` and
  ``/json/2/<model>/<method>``, the table of public ORM methods and how they bind;
* ``jsonrpc.py`` -- legacy JSON-RPC: ``common`` (version, authenticate/login),
  ``object`` (credentials check, ``execute``/``execute_kw``), ``db``;
* ``json2.py`` -- JSON-2: bearer API key, body merged into the params, its 4xx answers;
* ``envelopes.py`` -- replies, JSON-RPC and JSON-2 error envelopes, werkzeug pages;
* ``errors.py`` -- ``OdooError`` and its builders (``serialize_exception``);
* ``table.py`` -- the in-memory ``crm.lead`` rows: transactions with rollback,
  search/read/create/write/unlink/fields_get;
* ``grouping.py`` -- ``formatted_read_group`` and the legacy ``read_group``;
* ``domains.py`` -- domain parsing and evaluation, order strings;
* ``fields.py`` -- the field model and value conversion; ``sanitize.py`` -- Html fields;
* ``faults.py`` -- fault injection (``FaultPlan``) and :class:`Gate`.
"""

from .errors import DEBUG_MARKER
from .faults import FAULTS, Gate
from .json2 import MISSING_KEY_MSG
from .server import FakeOdoo

__all__ = ["DEBUG_MARKER", "FAULTS", "MISSING_KEY_MSG", "FakeOdoo", "Gate"]
