"""Recording selection results: every row checked first, nothing changed unless all is well.

Staff decide; this module only checks what they give (who, which value, in which order) and
records it, with the before and after of every change in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog import Catalog
from core.recruitment import RecruitmentConfig
from services.result_table import Outcome, TableRow, parse_outcome
from storage.models import Applicant, StageResult
from storage.repositories import Applicants, Audit
from storage.results import StageResults

FINAL = "final"
DECIDED = ("passed", "not_passed")
MAX_NOTE_LENGTH = 300
FINAL_WORDS = frozenset({"final", "akhir", "hasil akhir", "f"})


def stage_keys(config: RecruitmentConfig) -> list[str]:
    """The stages in order: "1", "2", ... and "final" (the final result) last."""
    return [str(stage.number) for stage in config.stages] + [FINAL]


def parse_stage(text: str, config: RecruitmentConfig) -> str | None:
    """A stage as staff type it: `1`, `tahap 2`, `final` / `akhir`; None if unknown."""
    typed = " ".join(text.replace("_", " ").casefold().split())
    if typed in FINAL_WORDS:
        return FINAL
    typed = typed.removeprefix("tahap").strip()
    return typed if typed in stage_keys(config)[:-1] else None


def stage_label(
    config: RecruitmentConfig, catalog: Catalog, language: str, stage: str, short: bool = False
) -> str:
    """`Tahap 1 Seleksi Administrasi`, or `Hasil akhir (calon mitra)`; `short`: `Tahap 1`."""
    key = "res_final_name" if stage == FINAL else "res_stage_name"
    named = None if stage == FINAL else config.stage_by_number(int(stage))
    params = {"number": stage, "name": named.name.get(language) if named else stage}
    text = catalog.short(language, key, **params) if short else None
    return text or catalog.text(language, key, **params)


def order_problem(
    config: RecruitmentConfig, stage: str, outcome: str, results: dict[str, StageResult]
) -> tuple[str, dict[str, Any]] | None:
    """Why `outcome` at `stage` does not fit the applicant's other results, if it does not.

    A decided result needs a pass at the stage before; anything but a pass cannot stand while a
    later stage already has a decided result.
    """
    keys = stage_keys(config)
    index = keys.index(stage)
    if outcome in DECIDED and index > 0:
        previous = keys[index - 1]
        held = results.get(previous)
        if held is None or held.outcome != "passed":
            return "stage_out_of_order", {"previous": previous}
    if outcome != "passed":
        for later in keys[index + 1 :]:
            held = results.get(later)
            if held is not None and held.outcome in DECIDED:
                return "later_stage_recorded", {"later": later}
    return None


@dataclass(frozen=True)
class Problem:
    """Why a row cannot be applied (`line` 0: a single result set by hand)."""

    line: int
    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """A result that will change (or be set for the first time)."""

    line: int
    applicant_id: int
    number: str | None
    name: str | None
    before: str | None
    after: Outcome
    note: str | None


@dataclass
class ResultPlan:
    """What a file (or one command) would do: changes, rows already so, and every problem."""

    stage: str
    rows: int = 0
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    unknown: list[Problem] = field(default_factory=list)
    """Rows naming nobody registered here (skipped only when staff ask for it)."""

    def ready(self, skip_unknown: bool = False) -> bool:
        """True when applying changes exactly what the report says and nothing is wrong."""
        return not self.problems and (skip_unknown or not self.unknown)


def single_row(identifier: str, result: str, note: str | None) -> TableRow:
    """One result typed by staff: a registration number or a 16-digit NIK, value, note."""
    typed = identifier.strip().upper()
    is_nik = typed.isdigit() and len(typed) == 16
    return TableRow(
        line=0,
        number=None if is_nik else typed,
        nik=typed if is_nik else None,
        nik_was_number=False,
        name=None,
        result=" ".join(result.split()),
        note=(note or "").strip() or None,
        birth_date=None,
        birth_date_text=None,
    )


def _unknown(row: TableRow) -> Problem:
    if row.number:
        return Problem(row.line, "unknown_number", {"number": row.number[:32]})
    code = "unknown_nik_number" if row.nik_was_number else "unknown_nik"
    return Problem(row.line, code, {"nik": _masked(row.nik or "")})


def _masked(nik: str) -> str:
    """A NIK in reports: enough to find the row, not the whole number."""
    return f"{nik[:6]}…{nik[-4:]}" if len(nik) > 10 else nik


def _resolve(
    row: TableRow,
    by_number: dict[str, Applicant],
    by_nik: dict[str, list[Applicant]],
    by_email: dict[str, list[Applicant]],
) -> Applicant | Problem:
    """The applicant a row names (registration number, else NIK, else SOBAT e-mail)."""
    if not row.number and not row.nik:
        if row.email:
            return _by_email(row, by_email)
        return Problem(row.line, "no_id")
    if row.number:
        applicant = by_number.get(row.number)
        if applicant is None:
            return _unknown(row)
        if row.nik and applicant.nik and row.nik != applicant.nik:
            return Problem(row.line, "id_mismatch", {"number": row.number})
        return applicant
    candidates = by_nik.get(row.nik or "", [])
    confirmed = [a for a in candidates if a.registration_number]
    if len(candidates) == 1:
        return candidates[0]
    if len(confirmed) == 1:
        return confirmed[0]
    if not candidates:
        return _unknown(row)
    return Problem(row.line, "nik_ambiguous", {"nik": _masked(row.nik or "")})


def _by_email(row: TableRow, by_email: dict[str, list[Applicant]]) -> Applicant | Problem:
    candidates = by_email.get(row.email or "", [])
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        return Problem(row.line, "unknown_email", {"email": (row.email or "")[:60]})
    return Problem(row.line, "email_ambiguous", {"email": (row.email or "")[:60]})


def _row_problem(row: TableRow, applicant: Applicant) -> Problem | None:
    """Problems of a row's own values, once its applicant is known."""
    if not row.result:
        return Problem(row.line, "empty_value")
    if parse_outcome(row.result) is None:
        return Problem(row.line, "unknown_value", {"value": row.result[:40]})
    if row.note and len(row.note) > MAX_NOTE_LENGTH:
        return Problem(row.line, "note_too_long", {"limit": MAX_NOTE_LENGTH})
    if row.birth_date_text:
        return Problem(row.line, "bad_birth_date", {"value": row.birth_date_text[:20]})
    if row.birth_date and applicant.birth_date and row.birth_date != applicant.birth_date:
        return Problem(row.line, "birth_date_mismatch", {"number": _who(applicant)})
    return None


def _who(applicant: Applicant) -> str:
    return applicant.registration_number or f"#{applicant.id}"


async def plan_results(
    session: AsyncSession, config: RecruitmentConfig, stage: str, rows: list[TableRow]
) -> ResultPlan:
    """Check every row against the database; report changes and problems, change nothing."""
    plan = ResultPlan(stage=stage, rows=len(rows))
    repository = StageResults(session)
    applicants = await repository.matching(
        (row.number for row in rows if row.number),
        (row.nik for row in rows if row.nik),
        (row.email for row in rows if row.email and not row.number and not row.nik),
    )
    by_number = {a.registration_number: a for a in applicants if a.registration_number}
    by_nik: dict[str, list[Applicant]] = {}
    by_email: dict[str, list[Applicant]] = {}
    for applicant in applicants:
        if applicant.nik:
            by_nik.setdefault(applicant.nik, []).append(applicant)
        if applicant.sobat_email:
            by_email.setdefault(applicant.sobat_email.lower(), []).append(applicant)
    results = await repository.of_applicants(a.id for a in applicants)
    first_line: dict[int, int] = {}
    for row in rows:
        target = _resolve(row, by_number, by_nik, by_email)
        if isinstance(target, Problem):
            unknown = target.code.startswith("unknown_")
            (plan.unknown if unknown else plan.problems).append(target)
            continue
        if target.id in first_line:
            plan.problems.append(
                Problem(row.line, "duplicate_row", {"first": first_line[target.id]})
            )
            continue
        first_line[target.id] = row.line
        problem = _row_problem(row, target)
        outcome = parse_outcome(row.result)
        held = results.get(target.id, {})
        if problem is None and outcome is not None:
            order = order_problem(config, stage, outcome, held)
            if order is not None:
                problem = Problem(row.line, order[0], {**order[1], "number": _who(target)})
        if problem is not None or outcome is None:
            plan.problems.append(problem or Problem(row.line, "empty_value"))
            continue
        existing = held.get(stage)
        before = existing.outcome if existing else None
        note = row.note or None
        if (before or "pending") == outcome and (existing.note if existing else None) == note:
            plan.unchanged += 1
            continue
        plan.changes.append(
            Change(
                row.line,
                target.id,
                target.registration_number,
                target.full_name,
                before,
                outcome,
                note,
            )
        )
    return plan


async def apply_plan(
    session: AsyncSession, plan: ResultPlan, actor: str, now: datetime, source: str
) -> int:
    """Record every change of a ready plan, each with its before/after in the audit log."""
    repository = StageResults(session)
    audit = Audit(session)
    held = await repository.of_applicants(change.applicant_id for change in plan.changes)
    for change in plan.changes:
        existing = held.get(change.applicant_id, {}).get(plan.stage)
        await audit.record(
            actor,
            "result_set",
            now,
            change.applicant_id,
            {
                "stage": plan.stage,
                "before": change.before,
                "after": change.after,
                "note_before": existing.note if existing else None,
                "note_after": change.note,
                "source": source,
            },
        )
        await repository.record(
            change.applicant_id, plan.stage, change.after, change.note, actor, now, source, existing
        )
    return len(plan.changes)


async def record_single(
    session: AsyncSession,
    config: RecruitmentConfig,
    stage: str,
    row: TableRow,
    actor: str,
    now: datetime,
    source: str,
) -> ResultPlan:
    """Check one result as an import row is checked, and record it when nothing is wrong. The
    plan says what happened: a problem (or an unknown applicant) and nothing recorded, no
    change (already so), or the one change recorded."""
    plan = await plan_results(session, config, stage, [row])
    if plan.ready() and plan.changes:
        await apply_plan(session, plan, actor, now, source)
    return plan


async def set_result(
    session: AsyncSession,
    config: RecruitmentConfig,
    applicant_id: int,
    stage: str,
    outcome: Outcome,
    note: str | None,
    actor: str,
    now: datetime,
) -> ResultPlan | None:
    """Set one applicant's result at `stage` (a key of `stage_keys`) with a note, from the
    desk: the import's checks, audited (see `record_single`). None: no such applicant."""
    if stage not in stage_keys(config):
        raise ValueError(f"unknown stage {stage!r}")
    applicant = await Applicants(session).get(applicant_id)
    if applicant is None:
        return None
    identifier = applicant.registration_number or applicant.nik
    if identifier is None:
        return ResultPlan(stage=stage, rows=1, problems=[Problem(0, "no_id")])
    row = single_row(identifier, outcome, note)
    return await record_single(session, config, stage, row, actor, now, "desk")


async def import_results(
    session: AsyncSession,
    config: RecruitmentConfig,
    stage: str,
    rows: list[TableRow],
    file_name: str,
    actor: str,
    now: datetime,
    skip_unknown: bool = False,
) -> ResultPlan:
    """Check a results file again and record it, all or nothing: when the plan is ready (rows
    naming nobody skipped only with `skip_unknown`) every change is recorded and the import
    audited. The plan returned says which (`ready(skip_unknown)`)."""
    plan = await plan_results(session, config, stage, rows)
    if not plan.ready(skip_unknown=skip_unknown) or not plan.changes:
        return plan
    changed = await apply_plan(session, plan, actor, now, f"import:{file_name}")
    await Audit(session).record(
        actor,
        "results_imported",
        now,
        detail={
            "stage": stage,
            "file": file_name,
            "rows": plan.rows,
            "changes": changed,
            "skipped_unknown": len(plan.unknown),
        },
    )
    return plan
