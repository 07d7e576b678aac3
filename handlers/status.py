""" "Cek status": each selection stage as the applicant may see it, and what comes next."""

from __future__ import annotations

from datetime import date

from handlers.flow import Turn
from handlers.formatting import format_date, format_datetime
from handlers.results import DECIDED, FINAL, stage_keys, stage_label
from storage.models import StageResult
from storage.results import Publications, StageResults


def _expected(turn: Turn, stage: str) -> str:
    """When a stage's results are expected, as the applicant reads it."""
    config = turn.deps.config
    if stage == FINAL:
        return format_datetime(config.local(config.schedule.announcement), turn.language)
    named = config.stage_by_number(int(stage))
    day: date = (named.results_by if named else None) or config.schedule.selection_end
    return format_date(day, turn.language)


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
            lines.append(turn.t("status_line_waiting", stage=label, date=_expected(turn, stage)))
    return turn.t(
        "status",
        number=applicant.registration_number,
        stages="\n".join(lines),
        next=_next_step(turn, decided, stopped_at),
    )


def _next_step(turn: Turn, decided: dict[str, StageResult], stopped_at: str | None) -> str:
    config = turn.deps.config
    if stopped_at == FINAL:
        return config.final_result.not_passed.get(turn.language)
    if stopped_at is not None:
        return turn.t("status_next_stopped")
    if FINAL in decided:
        return config.final_result.passed.get(turn.language)
    upcoming = next(stage for stage in stage_keys(config) if stage not in decided)
    waiting = turn.t(
        "status_next_waiting",
        stage=stage_label(config, turn.deps.catalog, turn.language, upcoming),
        date=_expected(turn, upcoming),
    )
    passed = [stage for stage in decided if stage != FINAL]
    if passed:
        named = config.stage_by_number(int(passed[-1]))
        if named and named.next_steps:
            return f"{named.next_steps.get(turn.language)}\n{waiting}"
    return waiting
