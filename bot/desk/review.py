"""The desk's review of one applicant: the profile, the three documents side by side, the
preferred items, SOBAT progress and stage results; asking for a document again and setting a
stage result (reviewers and admins). Every rule is the services' (`applicant_review`,
`documents`, `results`); this module only shows and forwards."""

from __future__ import annotations

from typing import Any, get_args

from starlette.responses import Response

from bot.desk.pages import Desk, desk_page, form_post
from bot.desk.site import LANGUAGE
from services.applicant_review import applicant_review
from services.desk_accounts import Permission
from services.documents import MAX_REASON_LENGTH, Resend, read_document, request_resend
from services.result_report import problem_reason
from services.result_table import Outcome
from services.results import MAX_NOTE_LENGTH, set_result, stage_keys

OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
"""What staff may set: passed, not_passed, pending (the choices of the result form)."""
INLINE = ("image/jpeg", "image/png", "application/pdf")
"""Document types the browser may show itself; anything else is only downloaded."""
DOCUMENT_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
"""On a document: never cached (it is personal data), its type as stored, nothing it could
run or load."""


def _applicant_id(desk: Desk) -> int:
    applicant_id: int = desk.request.path_params["applicant_id"]
    return applicant_id


async def _page(desk: Desk, status: int = 200, **errors: Any) -> Response:
    """The review page of the applicant in the path (404 when there is none), with the errors
    of a form that was not accepted (`resend_error`, `result_error`, and what was typed)."""
    deps = desk.deps.deps
    review = await applicant_review(
        desk.session, deps.config, deps.catalog, _applicant_id(desk), desk.now
    )
    if review is None:
        return desk.site.error(
            desk.request, desk.signed, 404, "desk_review_missing_heading", "desk_review_missing"
        )
    context: dict[str, Any] = {"resend_error": None, "result_error": None, "typed": {}}
    context.update(errors)
    return desk.render(
        "review/applicant.html",
        status,
        review=review,
        outcomes=OUTCOMES,
        reason_max=MAX_REASON_LENGTH,
        note_max=MAX_NOTE_LENGTH,
        **context,
    )


@desk_page(Permission.READ)
async def applicant(desk: Desk) -> Response:
    """GET: everything about one applicant; the action forms only for a role that may act."""
    return await _page(desk)


@desk_page(Permission.REVIEW_DOCUMENTS)
async def document(desk: Desk) -> Response:
    """GET: one document's file, for signed-in reviewers and admins only, never cached; the
    view is audited (`read_document`)."""
    found = await read_document(
        desk.session,
        desk.deps.deps.files,
        _applicant_id(desk),
        desk.request.path_params["kind"],
        desk.actor,
        desk.now,
    )
    if found is None:
        return desk.site.error(
            desk.request, desk.signed, 404, "desk_review_no_file_heading", "desk_review_no_file"
        )
    shown = found.mime_type in INLINE
    disposition = "inline" if shown else "attachment"
    headers = {
        **DOCUMENT_HEADERS,
        "Content-Disposition": f'{disposition}; filename="{found.file_name}"',
    }
    media_type = found.mime_type if shown else "application/octet-stream"
    return Response(found.content, media_type=media_type, headers=headers)


@form_post(Permission.ASK_RESEND)
async def resend(desk: Desk) -> Response:
    """POST: ask the applicant to send one document again, with a reason; the message reaches
    their chat in their language through the outbox (`request_resend`)."""
    deps = desk.deps.deps
    kind, reason = desk.field("kind"), desk.field("reason")
    outcome = await request_resend(
        desk.session,
        deps.config,
        deps.catalog,
        _applicant_id(desk),
        kind,
        reason,
        desk.actor,
        desk.now,
    )
    if outcome is Resend.REQUESTED:
        return desk.redirect(
            "applicant", flash="resend_requested", applicant_id=_applicant_id(desk)
        )
    if outcome is Resend.NO_APPLICANT:
        return await _page(desk)  # the 404 page
    error = desk.site.t(f"desk_review_resend_{outcome.value}")
    return await _page(desk, 422, resend_error=(kind, error), typed={"reason": reason})


@form_post(Permission.SET_RESULT)
async def result(desk: Desk) -> Response:
    """POST: set the applicant's result at one stage with a note (`set_result`: the import's
    checks, audited); what stops it is said on the page."""
    config = desk.deps.deps.config
    stage, outcome, note = desk.field("stage"), desk.field("outcome"), desk.field("note")
    typed = {"stage": stage, "outcome": outcome, "note": note}
    chosen = next((each for each in OUTCOMES if each == outcome), None)
    if stage not in stage_keys(config) or chosen is None:
        error = desk.site.t("desk_review_result_choose")
        return await _page(desk, 422, result_error=error, typed=typed)
    plan = await set_result(
        desk.session,
        config,
        _applicant_id(desk),
        stage,
        chosen,
        note or None,
        desk.actor,
        desk.now,
    )
    if plan is None:
        return await _page(desk)  # the 404 page
    problems = plan.problems + plan.unknown
    if problems:
        catalog = desk.deps.deps.catalog
        reason = "; ".join(problem_reason(config, catalog, LANGUAGE, p) for p in problems)
        error = desk.site.t("desk_review_result_refused", reason=reason)
        return await _page(desk, 422, result_error=error, typed=typed)
    flash = "result_set" if plan.changes else "result_unchanged"
    return desk.redirect("applicant", flash=flash, applicant_id=_applicant_id(desk))
