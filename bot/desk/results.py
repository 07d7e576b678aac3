"""The desk's "Hasil seleksi": per stage what is recorded and published; a results file
uploaded, checked (the CLI's dry run, as a table) and applied; a stage previewed and published.

The uploaded file stays server-side between the dry run and "Terapkan"
(`services/desk_uploads.py`); applying reads that file again and re-checks every row inside
the transaction (`services.results.import_results`), never a table sent back by the browser.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from bot.desk.pages import Desk, desk_page, form_post
from bot.desk.site import Site
from services.desk_accounts import Permission
from services.desk_uploads import (
    KeptFile,
    forget_results_file,
    keep_results_file,
    kept_results_file,
    upload_name,
)
from services.result_import import DryRun, dry_run
from services.result_publish import preview_publication, publish_results, untold_notices
from services.result_report import ReportRow, outcome_label
from services.result_table import TableProblem
from services.results import DECIDED, import_results, stage_keys, stage_label
from services.table_limits import LIMITS
from services.uploads import read_results_file
from storage.results import Publications, StageResults

FORM_ALLOWANCE = 64 * 1024
"""Room for the upload form's other fields and multipart headers around the file itself."""
REPORT_PAGE = 200
"""Rows of a dry-run report on one page."""
NOTICE_PAGE = 20
"""Messages of a publication preview on one page."""
SHOW = {
    "all": ("change", "unchanged", "problem", "unknown"),
    "attention": ("problem", "unknown"),
    "change": ("change",),
}
"""The dry-run report's views: every row, the rows to look at, the rows that change."""


@dataclass(frozen=True)
class StageLine:
    """One stage on the overview: its results and whether it is published."""

    key: str
    label: str
    passed: int
    not_passed: int
    pending: int
    published_at: datetime | None


def _page_number(desk: Desk) -> int:
    text = desk.request.query_params.get("page", "1")
    return max(int(text), 1) if text.isdigit() else 1


def _stage_or_none(desk: Desk, stage: str) -> str | None:
    return stage if stage in stage_keys(desk.deps.deps.config) else None


def _label(desk: Desk, stage: str) -> str:
    return stage_label(desk.deps.deps.config, desk.deps.deps.catalog, "id", stage)


async def _overview(
    desk: Desk, status: int = 200, error: str | None = None, stage: str = "1"
) -> Response:
    """The results page, with an upload's problem when there is one."""
    counts = await StageResults(desk.session).counts()
    published = await Publications(desk.session).all()
    lines = []
    for key in stage_keys(desk.deps.deps.config):
        held = counts.get(key, {})
        publication = published.get(key)
        lines.append(
            StageLine(
                key,
                _label(desk, key),
                held.get("passed", 0),
                held.get("not_passed", 0),
                held.get("pending", 0),
                publication.published_at if publication else None,
            )
        )
    return desk.render(
        "results/index.html",
        status,
        stages=lines,
        error=error,
        chosen=stage,
        max_mb=LIMITS.max_mb,
        max_rows=LIMITS.max_rows,
    )


@desk_page(Permission.READ)
async def results(desk: Desk) -> Response:
    """Per stage: passed, not passed, pending, published when; the upload form for admins."""
    return await _overview(desk)


def _problem_text(desk: Desk, problem: TableProblem) -> str:
    """Why a file cannot be used, in the words the chat and the CLI use."""
    return desk.site.t(f"res_{problem.code}", **problem.params)


async def upload(request: Request, site: Site) -> Response:
    """POST a results file. One larger than the limit allows (by what the request declares)
    is refused politely before any of it is read; uvicorn holds the body to that size."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > LIMITS.max_bytes + FORM_ALLOWANCE:
        return await _too_large(request, site=site)
    return await _check_upload(request, site=site)


@desk_page(Permission.IMPORT_RESULTS)
async def _too_large(desk: Desk) -> Response:
    message = _problem_text(desk, TableProblem("table_too_large", max_mb=LIMITS.max_mb))
    return await _overview(desk, 413, message)


@form_post(Permission.IMPORT_RESULTS)
async def _check_upload(desk: Desk) -> Response:
    """Read the file (within the limits) and keep it for this session; then its dry run."""
    stage = _stage_or_none(desk, desk.field("stage"))
    if stage is None:
        return await _overview(desk, 400, desk.site.t("desk_results_choose_stage"))
    sent = desk.form.get("file") if desk.form is not None else None
    if not isinstance(sent, UploadFile) or not sent.filename:
        return await _overview(desk, 400, desk.site.t("desk_results_no_file"), stage)
    content = await sent.read(LIMITS.max_bytes + 1)
    if len(content) > LIMITS.max_bytes:
        message = _problem_text(desk, TableProblem("table_too_large", max_mb=LIMITS.max_mb))
        return await _overview(desk, 413, message, stage)
    name = upload_name(sent.filename)
    table = await read_results_file(content, name, desk.now.date())
    if table.problem is not None:
        return await _overview(desk, 422, _problem_text(desk, table.problem), stage)
    kept = await keep_results_file(
        desk.session, desk.signed, stage, name, content, desk.actor, desk.now
    )
    return desk.redirect("results_import", upload=kept.id)


async def _dry_run(desk: Desk, kept: KeptFile) -> DryRun | TableProblem:
    """The kept file read again and checked against the database as it is now."""
    table = await read_results_file(kept.content, kept.file_name, desk.now.date())
    if table.rows is None:
        return table.problem or TableProblem("table_unreadable")
    config, catalog = desk.deps.deps.config, desk.deps.deps.catalog
    return await dry_run(desk.session, config, catalog, kept.stage, table.rows, kept.file_name)


def _gone(desk: Desk) -> Response:
    return desk.site.error(
        desk.request, desk.signed, 404, "desk_results_gone_heading", "desk_results_gone"
    )


async def _report(
    desk: Desk, kept: KeptFile, status: int = 200, note: str | None = None
) -> Response:
    checked = await _dry_run(desk, kept)
    if isinstance(checked, TableProblem):
        await forget_results_file(desk.session, desk.signed, kept.id)
        return await _overview(desk, 422, _problem_text(desk, checked), kept.stage)
    show = desk.request.query_params.get("show", "all")
    show = show if show in SHOW else "all"
    rows: list[ReportRow] = [row for row in checked.rows if row.status in SHOW[show]]
    pages = max((len(rows) + REPORT_PAGE - 1) // REPORT_PAGE, 1)
    page = min(_page_number(desk), pages)
    plan = checked.plan
    return desk.render(
        "results/import.html",
        status,
        upload=kept,
        report=checked,
        statuses=Counter(row.status for row in checked.rows),
        rows=rows[(page - 1) * REPORT_PAGE : page * REPORT_PAGE],
        show=show,
        page=page,
        pages=pages,
        ready=plan.ready() and bool(plan.changes),
        ready_known=not plan.ready() and plan.ready(skip_unknown=True) and bool(plan.changes),
        nothing=plan.ready() and not plan.changes,
        note=note,
        stage_label=_label(desk, kept.stage),
    )


@desk_page(Permission.IMPORT_RESULTS)
async def import_report(desk: Desk) -> Response:
    """The dry run of the session's uploaded file, as a table (paged, filtered by status)."""
    kept = await kept_results_file(desk.session, desk.signed, desk.request.path_params["upload"])
    if kept is None:
        return _gone(desk)
    return await _report(desk, kept)


@form_post(Permission.IMPORT_RESULTS)
async def import_apply(desk: Desk) -> Response:
    """ "Terapkan": the kept file checked again and recorded all or nothing, then removed."""
    kept = await kept_results_file(desk.session, desk.signed, desk.request.path_params["upload"])
    if kept is None:
        return _gone(desk)
    skip_unknown = desk.field("skip_unknown") == "1"
    table = await read_results_file(kept.content, kept.file_name, desk.now.date())
    plan = None
    if table.rows is not None:
        config = desk.deps.deps.config
        plan = await import_results(
            desk.session,
            config,
            kept.stage,
            table.rows,
            kept.file_name,
            desk.actor,
            desk.now,
            skip_unknown,
        )
    if plan is None or not plan.ready(skip_unknown=skip_unknown) or not plan.changes:
        return await _report(desk, kept, 409, desk.site.t("res_changed_meanwhile"))
    await forget_results_file(desk.session, desk.signed, kept.id)
    return desk.redirect("results", flash="results_imported")


@form_post(Permission.IMPORT_RESULTS)
async def import_cancel(desk: Desk) -> Response:
    """Drop the uploaded file; nothing recorded."""
    await forget_results_file(desk.session, desk.signed, desk.request.path_params["upload"])
    return desk.redirect("results", flash="results_cancelled")


@desk_page(Permission.READ)
async def publish_preview(desk: Desk) -> Response:
    """What publishing a stage does: its counts, the messages per outcome, and the messages
    themselves, a page at a time."""
    stage = _stage_or_none(desk, desk.request.path_params["stage"])
    if stage is None:
        return desk.site.error(
            desk.request, desk.signed, 404, "desk_not_found_heading", "desk_not_found"
        )
    config, catalog = desk.deps.deps.config, desk.deps.deps.catalog
    preview = await preview_publication(desk.session, config, catalog, stage)
    notices = await untold_notices(desk.session, config, catalog, stage)
    pages = max((len(notices) + NOTICE_PAGE - 1) // NOTICE_PAGE, 1)
    page = min(_page_number(desk), pages)
    by_outcome = Counter(notice.outcome for notice in notices)
    return desk.render(
        "results/publish.html",
        stage=stage,
        stage_label=_label(desk, stage),
        preview=preview,
        by_outcome=[
            (outcome_label(catalog, "id", outcome), by_outcome[outcome])
            for outcome in DECIDED
            if by_outcome[outcome]
        ],
        notices=notices[(page - 1) * NOTICE_PAGE : page * NOTICE_PAGE],
        outcome=lambda value: outcome_label(catalog, "id", value),
        page=page,
        pages=pages,
    )


@form_post(Permission.PUBLISH_RESULTS)
async def publish(desk: Desk) -> Response:
    """ "Umumkan": the stage released; each chat not yet told its result gets its message
    through the outbox."""
    stage = _stage_or_none(desk, desk.request.path_params["stage"])
    if stage is None:
        return desk.site.error(
            desk.request, desk.signed, 404, "desk_not_found_heading", "desk_not_found"
        )
    config, catalog = desk.deps.deps.config, desk.deps.deps.catalog
    broadcast = await publish_results(desk.session, config, catalog, stage, desk.actor, desk.now)
    flash = "results_published" if broadcast is not None else "results_published_nobody"
    return desk.redirect("results_publish", flash=flash, stage=stage)
