"""Ask AI: a simulated assistant question that shows its cost, debits once, and can fail and refund.

Idempotency: a question gets an id when it is first submitted (kept in
session state with the question and the tool). Submitting the same question
again — a double click, a rerun — reuses that id, so the engine replays the
first debit instead of charging twice. Editing the question, or "New
question", starts a new id. A failed (refunded) question is closed, so a
retry is a new, separately charged attempt.

Tools priced per unit (deep research, offering memo extraction) reserve
their estimate first (a hold), settle the simulated units actually used and
release the hold when the answer fails: "reserved 8 · charged 5 · released 3".
"""

from __future__ import annotations

import math
import time
import uuid

import streamlit as st

from credits_ui import flash
from credits_ui.components.errors import capture, show_error
from credits_ui.fmt import credits_text
from credits_ui.layout import page_header, page_session
from credits_ui.main import run_page
from credits_ui.session import UiSession
from credits_ui.session.prefs import think_seconds

ASK_TOOLS = ("ask_ai", "ask_ai_deep", "document_extract")
DEPTH_LABELS = {"ask_ai": "Quick answer", "ask_ai_deep": "Deep research", "document_extract": "Memo extraction"}
_PENDING = "cz_ask_pending"  # {"id", "question", "tool"}
_LAST = "cz_ask_last"  # what to show under the form
_QUESTION = "cz_ask_question"


def _answer(question: str, tool_label: str) -> str:
    """A canned, deterministic 'answer' (the AI is simulated)."""
    topic = question.strip().rstrip("?") or "your question"
    return (
        f"**{tool_label}** — here is a simulated answer about *{topic[:120]}*.\n\n"
        "Recent secondary trades for comparable positions cleared at a 12–18 % discount to NAV; "
        "liquidity is thinner for post-2020 vintages, and two recent offering memos include a right of first refusal. "
        "(DEMO content: no model was called.)"
    )


def _question_id(question: str, tool: str) -> str:
    """The id of this question: reused while the same question is pending."""
    pending = st.session_state.get(_PENDING)
    if pending and pending["question"] == question and pending["tool"] == tool:
        return pending["id"]
    qid = f"ask-{uuid.uuid4().hex}"
    st.session_state[_PENDING] = {"id": qid, "question": question, "tool": tool}
    return qid


def _new_question() -> None:
    st.session_state.pop(_PENDING, None)
    st.session_state.pop(_LAST, None)
    st.session_state[_QUESTION] = ""


class _SimulatedFailure(RuntimeError):
    """The simulated AI failing after the charge."""


def _ask(ui: UiSession, question: str, tool_id: str, tool_label: str, fail: bool) -> None:
    key = _question_id(question, tool_id)

    def think() -> str:
        with st.spinner("Thinking…"):
            time.sleep(think_seconds())
        if fail:
            raise _SimulatedFailure("simulated AI failure")
        return _answer(question, tool_label)

    if ui.service.registry.tool(tool_id).per_unit:
        _ask_held(ui, key, question, tool_id, tool_label, think)
        return
    run, err = capture(ui.service.run_metered, ui.user_id, tool_id, key, think, reason="simulated AI failure")
    if run is None:
        st.session_state[_LAST] = {"error": err}
        return
    result = run.debit
    last = {
        "key": key,
        "question": question,
        "answer": run.value or _answer(question, tool_label),
        "charged": -result.row.delta,
        "replayed": result.replayed,
        "warning": result.warning,
        "shortfall": int(result.row.meta.get("shortfall", 0) or 0),
        "balance": result.balance.total,
        "refunded": False,
    }
    if run.refund is not None:
        st.session_state.pop(_PENDING, None)  # a retry is a new attempt
        last.update(refunded=True, answer=None, balance=run.refund.balance.total, refund_credits=run.refund.row.delta)
    st.session_state[_LAST] = last
    flash_text = None if result.replayed else _summary(last)
    if flash_text:
        flash.push_and_rerun(*flash_text)
    st.rerun()


def simulated_units(estimate: int) -> int:
    """Units the simulated run uses: five eighths of the estimate, rounded up (8 → 5, 3 → 2)."""
    return max(1, math.ceil(estimate * 5 / 8))


def _ask_held(ui: UiSession, key: str, question: str, tool_id: str, tool_label: str, think) -> None:
    """Reserve the estimate, run, settle the simulated units; release on failure."""

    def run() -> tuple[str, int]:
        return think(), simulated_units(ui.service.registry.tool(tool_id).estimate_units)

    held, err = capture(ui.service.run_held, ui.user_id, tool_id, key, run, reason="simulated AI failure")
    if held is None:
        st.session_state[_LAST] = {"error": err}
        return
    end = held.settle or held.release
    last = {
        "key": key,
        "question": question,
        "answer": held.value or _answer(question, tool_label),
        "held": True,
        "reserved": held.reserved,
        "charged": held.charged,
        "released": held.released,
        "replayed": held.hold.replayed,
        "warning": held.hold.warning or (end.warning if end else None),
        "shortfall": int(held.hold.row.meta.get("shortfall", 0) or 0),
        "balance": end.balance.total if end else held.hold.balance.total,
        "refunded": held.release is not None,
    }
    if held.release is not None:
        st.session_state.pop(_PENDING, None)  # a retry is a new attempt
        last.update(answer=None, refund_credits=0)
    st.session_state[_LAST] = last
    if held.hold.replayed:
        st.rerun()
    flash.push_and_rerun(*_held_summary(last))


def _held_text(last: dict) -> str:
    return f"reserved {last['reserved']:,} · charged {last['charged']:,} · released {last['released']:,}"


def _held_summary(last: dict) -> tuple[str, str]:
    if last["refunded"]:
        return ("warning", f"The AI failed — the hold was released, nothing charged ({_held_text(last)}).")
    return ("success", f"Done: {_held_text(last)}. Balance **{last['balance']:,}**.")


def _summary(last: dict) -> tuple[str, str] | None:
    if last["refunded"]:
        return (
            "warning",
            f"The AI failed — your {last.get('refund_credits', 0):,} credit(s) were refunded. Balance **{last['balance']:,}**.",
        )
    if last["warning"]:
        return None  # the warn-only notice below says it
    return ("success", f"Charged **{credits_text(last['charged'])}**. Balance **{last['balance']:,}**.")


def _show_last() -> None:
    last = st.session_state.get(_LAST)
    if not last:
        return
    if "error" in last:
        show_error(last["error"])
        return
    if last.get("held") and last["refunded"]:
        st.warning(
            f"**The answer failed: its hold was released and nothing was charged** ({_held_text(last)}). "
            "Ask again to retry — a retry is a new hold.",
            icon=":material/undo:",
        )
        return
    if last["refunded"]:
        st.warning(
            f"**The answer failed and was refunded.** {credits_text(last.get('refund_credits', 0))} went back to your balance "
            f"(now {last['balance']:,}). Ask again to retry — a retry is a new, separately charged question.",
            icon=":material/undo:",
        )
        return
    if last["warning"]:
        st.warning(
            f"**Warn-only mode:** your balance did not cover this question ({credits_text(last['shortfall'])} short). "
            "It ran anyway and **nothing was charged**; with enforcement on it would have been blocked. "
            "Top up on the Account page.",
            icon=":material/warning:",
        )
    if last["replayed"]:
        st.info("Already answered — this repeat was **not charged again**.", icon=":material/replay:")
    with st.chat_message("assistant", avatar=":material/smart_toy:"):
        st.markdown(last["answer"])
        if last.get("held"):
            st.caption(f"{_held_text(last)} · balance after {last['balance']:,} · request `{last['key']}`")
            return
        st.caption(
            f"Charged {last['charged']:,} credit(s) · balance after {last['balance']:,} · request `{last['key']}`"
        )


def render() -> None:
    """The Ask AI page."""
    page_header("Ask AI", "Ask the market assistant. You see the cost before it runs; a failed answer is refunded.")
    ui = page_session()
    if ui is None:
        return
    registry = ui.service.registry
    tools = [t for t in registry.tools if t.id in ASK_TOOLS] or [t for t in registry.tools if t.category == "AI"]
    if not tools:
        st.info("No AI tool is configured in the registry.")
        return
    state, err = capture(ui.service.state, ui.user_id, tail=0)
    if state is None:
        show_error(err)  # type: ignore[arg-type]
        return
    labels = {t.id: t for t in tools}
    left, right = st.columns([2, 1], gap="large")
    with left:
        question = st.text_area(
            "Your question",
            key=_QUESTION,
            placeholder="e.g. What discount to NAV are 2019-vintage buyout LP stakes trading at?",
            height=110,
        )
        tool_id = st.segmented_control(
            "Depth",
            [t.id for t in tools],
            default=tools[0].id,
            required=True,
            format_func=lambda tid: f"{DEPTH_LABELS.get(tid, labels[tid].label)} · {labels[tid].upfront_credits} cr",
            key="cz_ask_tool",
        )
        tool = labels[tool_id]
        gate = f" · needs the {registry.plan(tool.min_plan).label} plan" if tool.min_plan else ""
        held = (
            f" ({state.available:,} available, {state.balance.total - state.available:,} held)" if state.holds else ""
        )
        if tool.per_unit:
            unit = tool.unit_label or "unit"
            st.markdown(
                f"This question reserves **{credits_text(tool.upfront_credits)}** (an estimate of {tool.estimate_units:,} "
                f"{unit}s at {credits_text(tool.unit_price)} each) and is charged what it uses; the rest is released{gate}. "
                f"Your balance: **{state.balance.total:,}**{held}."
            )
        else:
            st.markdown(
                f"This question costs **{credits_text(tool.credits)}**{gate}. "
                f"Your balance: **{state.balance.total:,}**{held}."
            )
        fail = st.toggle(
            "Simulate an AI failure", key="cz_ask_fail", help="The answer fails after the charge and is refunded"
        )
        c1, c2 = st.columns([1, 1])
        cost = tool.upfront_credits
        ask = c1.button(
            f"{'Reserve and ask' if tool.per_unit else 'Ask'} · {credits_text(cost)}",
            type="primary",
            icon=":material/send:",
            key="cz_ask_submit",
            width="stretch",
        )
        c2.button(
            "New question", icon=":material/add_comment:", on_click=_new_question, key="cz_ask_new", width="stretch"
        )
        if ask and not (question or "").strip():
            st.warning("Type a question first.", icon=":material/edit:")
        elif ask:
            _ask(ui, question.strip(), tool.id, tool.label, fail)
        _show_last()
    with right, st.container(border=True):
        st.markdown("**How credits work here**")
        mode = (
            "Enforced: a question your balance cannot cover is blocked."
            if ui.service.enforce
            else ("Warn-only: a question your balance cannot cover still runs, uncharged, with a warning.")
        )
        st.markdown(
            f"- The cost is shown before you ask.\n- One charge per question — a double click is not charged twice.\n"
            f"- A failed answer is refunded to the bucket it came from.\n- {mode}"
        )


run_page(render)
