""" "Cek status": each selection stage as the applicant may see it, and what comes next."""

from __future__ import annotations

from datetime import datetime

from core.formatting import format_date, format_datetime, format_time
from core.recruitment import RecruitmentConfig
from handlers.applicant.sobat import sobat_enrolled
from handlers.document_status import asked_again
from handlers.flow import Turn
from services.results import DECIDED, FINAL, stage_keys, stage_label
from storage.models import StageResult
from storage.results import Publications, StageResults


def expectation(
    config: RecruitmentConfig, stage: str, now: datetime
) -> tuple[str, datetime | None]:
    """How an unpublished stage reads at `now`: a kind and, for some kinds, its moment.

    `waiting` no date was announced (and the selection is not over); `by` the office publishes
    by that day at the latest (`results_by`); `on` the final result comes that day (with its
    hour if set); `today` / `today_at` it comes today (at that hour, still ahead); `processing`
    every date named has passed and nothing is published.
    """
    today = now.date()
    if stage == FINAL:
        schedule = config.schedule
        moment = config.local(schedule.announcement_at)
        if today < schedule.announcement:
            return "on", moment
        if today == schedule.announcement and schedule.announcement_time is None:
            return "today", None
        if today == schedule.announcement and now < moment:
            return "today_at", moment
        return "processing", None
    named = config.stage_by_number(int(stage))
    if named is not None and named.results_by is not None:
        if today <= named.results_by:
            return "by", datetime.combine(named.results_by, datetime.min.time(), config.tz)
        return "processing", None
    return ("waiting", None) if today <= config.schedule.selection_end else ("processing", None)


def _expected_params(turn: Turn, stage: str) -> tuple[str, dict[str, str]]:
    config, language = turn.deps.config, turn.language
    kind, moment = expectation(config, stage, turn.now)
    params = {
        "stage": stage_label(config, turn.deps.catalog, language, stage),
        "selection_end": format_date(config.schedule.selection_end, language),
    }
    if moment is not None:
        timed = kind == "on" and config.schedule.announcement_time is not None
        date = format_datetime(moment, language) if timed else format_date(moment.date(), language)
        params.update(date=date, time=format_time(moment, language))
    return kind, params


async def status_text(turn: Turn) -> str:
    """Every stage: result (once published), or when to expect it; then the next step."""
    applicant = turn.applicant
    if applicant.registration_number is None:
        window = await turn.registration_window()
        if window.is_over:
            closed = format_date(window.closed_at.date(), turn.language)
            return turn.t("status_not_registered_closed", closed=closed)
        return turn.t("status_not_registered")
    config, language = turn.deps.config, turn.language
    results = await StageResults(turn.session).of_applicant(applicant.id)
    published = await Publications(turn.session).all()
    lines: list[str] = []
    decided: dict[str, StageResult] = {}
    stopped_at: str | None = None
    for stage in stage_keys(config):
        label = stage_label(config, turn.deps.catalog, language, stage)
        result = results.get(stage)
        if stopped_at is not None:
            lines.append(turn.t("status_line_closed", stage=label))
        elif stage in published and result is not None and result.outcome in DECIDED:
            decided[stage] = result
            lines.append(turn.t(f"status_line_{result.outcome}", stage=label))
            if result.note:
                lines.append(turn.t("status_line_note", note=result.note))
            if result.outcome == "not_passed":
                stopped_at = stage
        else:
            kind, params = _expected_params(turn, stage)
            lines.append(turn.t(f"status_line_{kind}", **params))
    text = turn.t(
        "status",
        number=applicant.registration_number,
        stages="\n".join(lines),
        next=_next_step(turn, decided, stopped_at),
    )
    asked = asked_again(turn)
    if asked:
        names = ", ".join(doc.name.get(language) for doc in asked)
        text = f"{turn.t('status_documents_resend', documents=names)}\n\n{text}"
    if decided or await sobat_enrolled(turn):
        return text  # a published result: staff have the applicant's official registration
    sobat = config.sobat
    pending = turn.t(
        "status_sobat_pending",
        number=applicant.registration_number,
        portal=sobat.portal,
        activity=sobat.activity,
        guide=turn.t("menu_sobat"),
    )
    return f"{pending}\n\n{text}"


def _next_step(turn: Turn, decided: dict[str, StageResult], stopped_at: str | None) -> str:
    config = turn.deps.config
    if stopped_at == FINAL:
        return config.final_result.not_passed.get(turn.language)
    if stopped_at is not None:
        return turn.t("status_next_stopped")
    if FINAL in decided:
        return config.final_result.passed.get(turn.language)
    upcoming = next(stage for stage in stage_keys(config) if stage not in decided)
    kind, params = _expected_params(turn, upcoming)
    waiting = turn.t(f"status_next_{kind}", **params)
    passed = [stage for stage in decided if stage != FINAL]
    if passed:
        named = config.stage_by_number(int(passed[-1]))
        if named and named.next_steps:
            return f"{named.next_steps.get(turn.language)}\n{waiting}"
    return waiting
