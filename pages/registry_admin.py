"""Registry admin: the current catalog, edit + validate + save a new version, old versions.

Anyone can read the registry (it is public through ``GET /api/action-registry``).
Saving to the server registry needs the admin secret typed in (the same gate
as ``POST /api/action-registry-admin``); in DEMO mode a save goes to the DEMO
session's own in-memory registry and changes nothing else.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from credits_core.registry import Registry
from credits_ui import flash
from credits_ui.components.admin import Scope, choose_scope, unlock_form
from credits_ui.components.errors import attempt, capture, show_error
from credits_ui.fmt import money
from credits_ui.layout import page_header, page_session
from credits_ui.main import run_page
from credits_ui.session.admin import secret_unlocked


def _scope() -> Scope | None:
    ui = page_session()
    if ui is None:
        return None
    if ui.is_demo and not secret_unlocked():
        st.info(
            "**DEMO** — edits are saved to this DEMO session's own registry; the server's registry is untouched.",
            icon=":material/science:",
        )
    return choose_scope(ui, key="cz_reg")


def _overview(reg: Registry) -> None:
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Version", reg.version, border=True)
    c2.metric("Plans", len(reg.plans), border=True)
    c3.metric("Tools", len(reg.tools), border=True)
    c4.metric("Packs", len(reg.packs), border=True)
    st.caption(f"Tenant `{reg.tenant}` · updated {reg.updated_at} · default plan `{reg.default_plan}`")
    st.markdown("**Plans**")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Plan": p.label,
                    "id": p.id,
                    "Rank": p.rank,
                    "Price / month": money(p.monthly_price, p.currency),
                    "Included / month": p.monthly_included,
                    "Soft cap": p.soft_cap,
                }
                for p in sorted(reg.plans, key=lambda p: p.rank)
            ]
        ),
        hide_index=True,
    )
    st.markdown("**Tools**")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Tool": t.label,
                    "id": t.id,
                    "Credits": t.credits,
                    "Min plan": t.min_plan or "",
                    "Category": t.category,
                }
                for t in reg.tools
            ]
        ),
        hide_index=True,
    )
    st.markdown("**Packs**")
    st.dataframe(
        pd.DataFrame(
            [
                {"Pack": p.label, "id": p.id, "Credits": p.credits, "Price": money(p.price, p.currency)}
                for p in reg.packs
            ]
        ),
        hide_index=True,
    )


def _parse(scope: Scope, text: str) -> tuple[dict | None, Registry | None]:
    """JSON → validated registry as it would be saved (tenant, version, updatedAt are managed)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        st.error(f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).", icon=":material/data_object:")
        return None, None
    if not isinstance(doc, dict):
        st.error("The registry must be a JSON object.", icon=":material/data_object:")
        return None, None
    reg, err = capture(scope.service.preview_registry, doc)
    if reg is None:
        show_error(err)  # type: ignore[arg-type]
        return doc, None
    return doc, reg


def _editor(scope: Scope, current: Registry) -> None:
    can_save = scope.is_demo or secret_unlocked()
    st.caption(
        "Edit the JSON, **Validate** to list every problem, then **Save** as a new version. "
        "`tenant`, `version` and `updatedAt` are set on save; past ledger rows keep their prices."
    )
    key = f"cz_reg_text_{'demo' if scope.is_demo else 'server'}_{current.version}"
    if key not in st.session_state:
        st.session_state[key] = json.dumps(current.to_json(), indent=2)
    text = st.text_area("Registry JSON", key=key, height=420)
    c1, c2, c3 = st.columns(3)
    validate = c1.button("Validate", icon=":material/rule:", width="stretch", key="cz_reg_validate")
    save = c2.button(
        "Save new version",
        icon=":material/save:",
        type="primary",
        width="stretch",
        disabled=not can_save,
        key="cz_reg_save",
    )
    if c3.button("Discard edits", icon=":material/undo:", width="stretch", key="cz_reg_discard"):
        del st.session_state[key]
        st.rerun()
    if not can_save:
        st.warning("Saving the server registry needs the admin secret.", icon=":material/lock:")
        unlock_form("cz_reg_unlock")
    if validate:
        _, reg = _parse(scope, text)
        if reg is not None:
            st.success(
                f"Valid: {len(reg.plans)} plans, {len(reg.tools)} tools, {len(reg.packs)} packs. "
                f"Saving makes it version {current.version + 1}.",
                icon=":material/check_circle:",
            )
    if save and can_save:
        doc, reg = _parse(scope, text)
        if reg is not None and doc is not None:
            saved = attempt(scope.service.save_registry, {**doc, "expectedVersion": current.version})
            if saved is not None:
                del st.session_state[key]
                where = "this DEMO session's registry" if scope.is_demo else "the server registry"
                flash.push_and_rerun("success", f"Saved **version {saved.version}** to {where}.")


def _versions(scope: Scope, current: Registry) -> None:
    versions = attempt(scope.service.registry_versions)
    if not versions:
        return
    st.dataframe(
        pd.DataFrame(versions).rename(columns={"version": "Version", "updatedAt": "Updated (UTC)"}), hide_index=True
    )
    picked = st.selectbox("View version", [v["version"] for v in versions], key="cz_reg_version")
    old = attempt(scope.service.registry_version, int(picked))
    if old is not None:
        label = " (current)" if old.version == current.version else ""
        st.markdown(f"**Version {old.version}**{label} · updated {old.updated_at}")
        st.json(old.to_json(), expanded=1)


def render() -> None:
    """The Registry admin page."""
    page_header(
        "Registry admin", "Plans, billable tools and top-up packs — view, validate, save a new version, browse history."
    )
    scope = _scope()
    if scope is None:
        return
    current = attempt(lambda: scope.service.saved_registry)
    if current is None:
        return
    st.caption(f"Editing: **{scope.label}**")
    tab_current, tab_edit, tab_versions = st.tabs(["Current", "Edit & validate", "Versions"])
    with tab_current:
        _overview(current)
    with tab_edit:
        _editor(scope, current)
    with tab_versions:
        _versions(scope, current)


run_page(render)
