"""The applicant list ("Pendaftar"): search, filters, sorting, paging, and the XLSX export of
the current view.

A view is never in a URL as its values: the filter form is POSTed and the view kept
server-side (`remember_view`), the list's address carrying only its opaque id (`?v=…`) and the
page number. The funnel's numbers link here with conditions that are no one's personal data (a
funnel step, a kecamatan, a day: `LINKABLE`); such a link is turned into a kept view at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from bot.desk.pages import Desk, desk_page, form_post
from core.applicant_filter import ApplicantFilter, SobatState, SortKey, StageFilter
from services.desk_accounts import Permission
from services.desk_sessions import recall_view, remember_view
from services.desk_views import (
    FilterError,
    applicant_page,
    check_filter,
    export_view,
    funnel_steps,
    results_summary,
    step_label,
)
from services.profile import OUTSIDE, PROFILE_FIELDS
from services.results import stage_keys, stage_label

VIEWS = "applicants"
"""The page name views of the list are kept under."""
LINKABLE = ("step", "kecamatan", "started_on", "registered_on")
"""Conditions a link may carry in its address: none is a person's value."""
OUTCOMES = ("passed", "not_passed", "pending", "none")
CHANNELS = ("telegram", "whatsapp", "terminal")
PAGE_MAX = 100_000
NOT_FILTERS = {"search", "sort", "descending", "page"}
"""Parts of a view outside the form's folded filters."""
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def list_link(base: str, view: ApplicantFilter) -> str:
    """The list's address showing `view`, which holds only `LINKABLE` conditions."""
    values = view.model_dump(mode="json", exclude_defaults=True)
    extra = set(values) - set(LINKABLE)
    if extra:
        raise ValueError(f"not for an address: {', '.join(sorted(extra))}")
    return f"{base}?{urlencode(values)}"


def _address(desk: Desk, view_id: str | None, page: int = 1) -> str:
    params = {"v": view_id} if view_id else {}
    if page > 1:
        params["page"] = str(page)
    base = str(desk.request.app.url_path_for("desk:applicants"))
    return f"{base}?{urlencode(params)}" if params else base


def _one(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value.strip() or None if isinstance(value, str) else None


def filter_from_form(form: FormData) -> ApplicantFilter:
    """The view the filter form asks for (ValidationError when a value is malformed)."""
    result = _one(form, "result")
    stage = None
    if result:
        stage_key, _, outcome = result.partition(":")
        stage = StageFilter.model_validate({"stage": stage_key, "outcome": outcome})
    values: dict[str, Any] = {
        name: _one(form, name)
        for name in ("search", "step", "kecamatan", "sobat", "channel", "consent")
    }
    return ApplicantFilter.model_validate(
        {
            **values,
            "stage": stage,
            "missing_fields": tuple(v for v in form.getlist("missing_field") if v),
            "missing_documents": tuple(v for v in form.getlist("missing_document") if v),
            "sort": _one(form, "sort") or SortKey.NUMBER,
            "descending": form.get("descending") == "1",
        }
    )


def _page_number(text: str | None) -> int:
    return int(text) if text and text.isdigit() and 0 < int(text) <= PAGE_MAX else 1


def _document_names(desk: Desk) -> list[tuple[str, str]]:
    """(key, name) of the recruitment's documents, in its order."""
    return [(d.key, d.name.get("id")) for d in desk.deps.deps.config.documents]


def _choices(desk: Desk) -> dict[str, Any]:
    """What the filter form offers, with the labels staff read."""
    config, catalog, t = desk.deps.deps.config, desk.deps.deps.catalog, desk.site.t
    places = [(k.code, k.name) for k in config.kecamatan]
    places.append((OUTSIDE, t("kecamatan_outside", regency=config.office.regency_name)))
    return {
        "steps": [(step, step_label(config, catalog, step)) for step in funnel_steps(config)],
        "kecamatan": places,
        "stages": [
            (stage, stage_label(config, catalog, "id", stage, short=True))
            for stage in stage_keys(config)
        ],
        "outcomes": OUTCOMES,
        "fields": PROFILE_FIELDS,
        "documents": _document_names(desk),
        "sobat": [state.value for state in SobatState],
        "channels": CHANNELS,
        "sorts": [key.value for key in SortKey],
    }


@desk_page(Permission.READ)
async def applicants(desk: Desk) -> Response:
    """The list: the kept view `?v=…` (or everyone), page `?page=N`; a funnel link's conditions
    become a kept view first."""
    query = desk.request.query_params
    if any(name in query for name in LINKABLE):
        return await _keep(
            desk,
            lambda: ApplicantFilter.model_validate({n: query[n] for n in LINKABLE if n in query}),
        )
    view_id = query.get("v") or None
    view = await _recalled(desk, view_id)
    if view is None:
        return desk.redirect("applicants", flash="view_gone")
    view = view.model_copy(update={"page": _page_number(query.get("page"))})
    deps = desk.deps.deps
    try:
        listed = await applicant_page(desk.session, deps.config, deps.catalog, view)
    except FilterError:
        return _bad_view(desk)
    summaries = {
        row.applicant_id: results_summary(deps.config, deps.catalog, row.results)
        for row in listed.rows
    }
    documents = _document_names(desk)
    missing = {
        row.applicant_id: [name for key, name in documents if key in row.missing_documents]
        + [desk.site.t(f"field_{name}") for name in row.missing_fields]
        for row in listed.rows
    }
    return desk.render(
        "applicants/list.html",
        listed=listed,
        view=view,
        view_id=view_id,
        summaries=summaries,
        missing=missing,
        filtered=bool(view.model_dump(exclude_defaults=True, exclude=NOT_FILTERS)),
        choices=_choices(desk),
        page_address=lambda n: _address(desk, view_id, n),
    )


async def _keep(desk: Desk, make: Callable[[], ApplicantFilter]) -> Response:
    """Keep the view `make` gives server-side and go to it (its id in the address); a 400 page
    when it is malformed or names what the recruitment does not have."""
    try:
        view = make()
        check_filter(desk.deps.deps.config, view)
    except (ValidationError, FilterError):
        return _bad_view(desk)
    filters = view.model_dump(mode="json")
    kept = await remember_view(desk.session, desk.signed, VIEWS, filters, desk.now)
    return RedirectResponse(_address(desk, kept), status_code=303)


async def _recalled(desk: Desk, view_id: str | None) -> ApplicantFilter | None:
    """The view kept under `view_id` for this session (everyone without an id); None when
    there is no such view (any more)."""
    if view_id is None:
        return ApplicantFilter()
    filters = await recall_view(desk.session, desk.signed, VIEWS, view_id)
    return None if filters is None else ApplicantFilter.model_validate(filters)


def _bad_view(desk: Desk) -> Response:
    return desk.site.error(
        desk.request, desk.signed, 400, "desk_list_bad_filter_heading", "desk_list_bad_filter"
    )


@form_post(Permission.READ)
async def applicants_search(desk: Desk) -> Response:
    """The filter form: keep the view server-side and show it (its id in the address)."""
    form = desk.form
    assert form is not None
    return await _keep(desk, lambda: filter_from_form(form))


@form_post(Permission.EXPORT)
async def applicants_export(desk: Desk) -> Response:
    """Every row of the current view (all pages) as an XLSX download, audited."""
    view = await _recalled(desk, desk.field("v") or None)
    if view is None:
        return desk.redirect("applicants", flash="view_gone")
    deps = desk.deps.deps
    try:
        content, _ = await export_view(
            desk.session, deps.config, deps.catalog, view, desk.actor, desk.now
        )
    except FilterError:
        return _bad_view(desk)
    day = desk.now.astimezone(deps.config.tz).strftime("%Y%m%d-%H%M")
    return Response(
        content,
        media_type=XLSX_TYPE,
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="pendaftar-{day}.xlsx"',
            "X-Content-Type-Options": "nosniff",
        },
    )
