"""The field model of ``crm.lead`` and the ORM's value conversion.

Field subset, types, defaults and indexes from ``addons/crm/models/crm_lead.py``
(see the package docstring); ``convert_to_cache`` turns RPC values into stored
ones (monetary rounded to 0.01, Html sanitised, selection/many2one checked).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .errors import builtin_error
from .sanitize import sanitize_html

MODEL = "crm.lead"
DT_FORMAT = "%Y-%m-%d %H:%M:%S"


# ---------------------------------------------------------------------------
# Field model of crm.lead (subset of addons/crm/models/crm_lead.py)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One field: type, label and the ORM attributes the stand-in honours."""

    type: str
    string: str
    required: bool = False
    default: Any = None
    selection: tuple[tuple[str, str], ...] = ()
    aggregator: str | None = None
    store: bool = True
    readonly: bool = False
    index: str | None = None


def _lead_fields() -> dict[str, Field]:
    """The crm.lead subset; indexes as declared in Odoo 19's crm_lead.py."""
    char = {
        "referred": "Referred By",
        "function": "Job Position",
        "website": "Website",
        "street": "Street",
        "street2": "Street2",
        "zip": "Zip",
        "city": "City",
        "phone": "Phone",
    }
    fields = {
        "id": Field("integer", "ID", readonly=True),
        "display_name": Field("char", "Display Name", store=False, readonly=True),
        "name": Field("char", "Opportunity", required=True, index="trigram"),
        "type": Field(
            "selection",
            "Type",
            required=True,
            default="opportunity",
            selection=(("lead", "Lead"), ("opportunity", "Opportunity")),
            index="btree",
        ),
        "active": Field("boolean", "Active", default=True),
        "priority": Field(
            "selection",
            "Priority",
            default="0",
            selection=(("0", "Low"), ("1", "Medium"), ("2", "High"), ("3", "Very High")),
            index="btree",
        ),
        "color": Field("integer", "Color Index", default=0, aggregator="sum"),
        "expected_revenue": Field("monetary", "Expected Revenue", default=0.0, aggregator="sum"),
        "recurring_revenue": Field("monetary", "Recurring Revenues", default=0.0, aggregator="sum"),
        "probability": Field("float", "Probability", default=0.0, aggregator="avg"),
        "description": Field("html", "Notes"),
        "partner_name": Field("char", "Company Name", index="trigram"),
        "contact_name": Field("char", "Contact Name", index="trigram"),
        "email_from": Field("char", "Email", index="trigram"),
        "email_normalized": Field("char", "Normalized Email", readonly=True, index="trigram"),
        "lang_code": Field("char", "Language Code", store=False),
        "user_id": Field("many2one", "Salesperson", index="btree"),
        "create_date": Field("datetime", "Created on", readonly=True),
        "create_uid": Field("many2one", "Created by", readonly=True),
        "write_date": Field("datetime", "Last Updated on", readonly=True),
        "write_uid": Field("many2one", "Last Updated by", readonly=True),
    }
    fields.update({name: Field("char", label) for name, label in char.items()})
    return fields


LEAD_FIELDS = _lead_fields()
LEAD_ORDER = "priority desc, id desc"
USER_FIELDS = ("id", "name", "login", "active")


# ---------------------------------------------------------------------------
# Value conversion (convert_to_cache / convert_to_read)
# ---------------------------------------------------------------------------


def _round_money(value: float) -> float:
    """Round like a 2-decimal currency (float_round, half-up)."""
    return float(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def email_normalize(value: str | None) -> str | None:
    """Lower-cased address when ``value`` holds exactly one e-mail, else None."""
    found = re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", value or "")
    return found[0].lower() if len(found) == 1 else None


def parse_datetime(value: Any) -> dt.datetime | None:
    """Parse an Odoo datetime/date string (or pass a datetime through)."""
    if value in (None, False, ""):
        return None
    if isinstance(value, dt.datetime):
        return value
    text = str(value)
    try:
        return dt.datetime.strptime(text[:19], DT_FORMAT if len(text) > 10 else "%Y-%m-%d")
    except ValueError:
        raise builtin_error("ValueError", f"time data {text!r} does not match format") from None


def convert_to_cache(name: str, field: Field, value: Any) -> Any:
    """Turn an RPC value into the stored Python value, as the ORM does."""
    if field.type in ("char", "html"):
        if value is None or value is False:
            return None
        text = str(value)
        return sanitize_html(text) if field.type == "html" else text
    if field.type == "integer":
        return _coerce(name, int, value or 0)
    if field.type in ("float", "monetary"):
        number = _coerce(name, float, value or 0.0)
        return _round_money(number) if field.type == "monetary" else number
    if field.type == "boolean":
        return bool(value)
    if field.type == "selection":
        if value is None or value is False:
            return None
        if value not in dict(field.selection):
            raise builtin_error("ValueError", f"Wrong value for {MODEL}.{name}: {value!r}")
        return value
    if field.type == "many2one":
        if value is None or value is False:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise builtin_error("ValueError", f"Wrong value for {MODEL}.{name}: {value!r}")
        return value
    return value


def _coerce(name: str, kind: type, value: Any) -> Any:
    """``int(value)``/``float(value)`` with the ValueError Odoo would leak."""
    try:
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise builtin_error("ValueError", f"{exc} (field {MODEL}.{name})") from None
