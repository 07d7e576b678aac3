"""The desk's inbox ("Kotak masuk"): SOBAT stuck reports and questions handed to a person,
newest first (the answered ones on their own tab), answered in the page; the answer reaches the
applicant's chat through the outbox, as `/sobat_jawab` and `/jawab` do."""

from __future__ import annotations

from starlette.responses import Response

from bot.desk.pages import Desk, desk_page, form_post
from services.desk_accounts import Permission
from services.inbox import ItemKind, answer_item, inbox
from services.questions import MAX_ANSWER_LENGTH

TABS = ("open", "answered")


@desk_page(Permission.READ)
async def inbox_page(desk: Desk) -> Response:
    """The open items (or, on the `answered` tab, the answered ones), newest first."""
    tab = desk.request.query_params.get("tab", "open")
    tab = tab if tab in TABS else "open"
    config = desk.deps.deps.config
    items = await inbox(desk.session, config, answered=tab == "answered")
    shown = [item for item in items if item.state == tab]
    return desk.render("inbox/list.html", items=shown, tab=tab, limit=MAX_ANSWER_LENGTH)


@form_post(Permission.ANSWER_INBOX)
async def inbox_answer(desk: Desk) -> Response:
    """Answer one report or question: recorded, audited, sent to the applicant's chat."""
    kind, item_id = desk.field("kind"), desk.field("item_id")
    if kind not in set(ItemKind) or not item_id.isdigit():
        return desk.redirect("inbox", flash="inbox_not_found")
    if not desk.field("answer"):
        return desk.redirect("inbox", flash="inbox_answer_empty")
    deps = desk.deps.deps
    answered = await answer_item(
        desk.session,
        deps.config,
        deps.catalog,
        ItemKind(kind),
        int(item_id),
        desk.field("answer"),
        desk.actor,
        desk.now,
    )
    return desk.redirect("inbox", flash="inbox_answered" if answered else "inbox_not_found")
