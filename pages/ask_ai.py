"""Ask AI: a simulated assistant question that shows its cost, debits once, and can fail and refund.

Idempotency: a question gets an id when it is first submitted (kept in
session state with the question and the tool). Submitting the same question
again — a double click, a rerun — reuses that id, so the engine replays the
first debit instead of charging twice. Editing the question, or "New
question", starts a new id. A failed (refunded) question is closed, so a
retry is a new, separately charged attempt.
"""

from __future__ import annotations

import time
import uuid

import streamlit as st

from credits_ui import flash
from credits_ui.components.errors import capture, show_error
from credits_ui.fmt import credits_text
from credits_ui.layout import page_header, page_session
from credits_ui.main import run_page
from credits_ui.session import UiSession, think_seconds

ASK_TOOLS = ("ask_ai", "ask_ai_deep")
DEPTH_LABELS = {"ask_ai": "Quick answer", "ask_ai_deep": "Deep research"}
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
            format_func=lambda tid: f"{DEPTH_LABELS.get(tid, labels[tid].label)} · {labels[tid].credits} cr",
            key="cz_ask_tool",
        )
        tool = labels[tool_id]
        gate = f" · needs the {registry.plan(tool.min_plan).label} plan" if tool.min_plan else ""
        st.markdown(
            f"This question costs **{tool.credits:,} credit{'s' if tool.credits != 1 else ''}**{gate}. "
            f"Your balance: **{state.balance.total:,}**."
        )
        fail = st.toggle(
            "Simulate an AI failure", key="cz_ask_fail", help="The answer fails after the charge and is refunded"
        )
        c1, c2 = st.columns([1, 1])
        ask = c1.button(
            f"Ask · {tool.credits} credit{'s' if tool.credits != 1 else ''}",
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
