"""The dry-run report of a results file or command, in staff's language."""

from __future__ import annotations

from dataclasses import dataclass

from core.catalog import Catalog
from core.recruitment import RecruitmentConfig
from services.result_table import TableRow, parse_outcome
from services.results import Change, Problem, ResultPlan, stage_label


def outcome_label(catalog: Catalog, language: str, outcome: str | None) -> str:
    """`lulus`, `tidak lulus`, `belum ada hasil`."""
    return catalog.text(language, f"res_outcome_{outcome or 'none'}")


def problem_reason(
    config: RecruitmentConfig, catalog: Catalog, language: str, problem: Problem
) -> str:
    """What is wrong with a row, without its line number."""
    params = dict(problem.params)
    for key in ("previous", "later"):
        if key in params:
            params[key] = stage_label(config, catalog, language, params[key])
    return catalog.text(language, f"res_problem_{problem.code}", **params)


def problem_text(
    config: RecruitmentConfig, catalog: Catalog, language: str, problem: Problem
) -> str:
    """One problem as a line staff can act on."""
    text = problem_reason(config, catalog, language, problem)
    if not problem.line:
        return text
    return catalog.text(language, "res_line", line=problem.line, text=text)


def change_text(catalog: Catalog, language: str, change: Change) -> str:
    """`Baris 4: PMK24-00012 Siti Aminah: belum ada hasil → lulus (catatan: …)`."""
    text = catalog.text(
        language,
        "res_change",
        number=change.number or "-",
        name=change.name or "-",
        before=outcome_label(catalog, language, change.before),
        after=outcome_label(catalog, language, change.after),
    )
    if change.note:
        text += " " + catalog.text(language, "res_change_note", note=change.note)
    if not change.line:
        return text
    return catalog.text(language, "res_line", line=change.line, text=text)


def plan_summary(
    config: RecruitmentConfig, catalog: Catalog, language: str, plan: ResultPlan
) -> str:
    """The report's first line: the stage and how many rows change, stay, have problems."""
    return catalog.text(
        language,
        "res_plan_summary",
        stage=stage_label(config, catalog, language, plan.stage),
        rows=plan.rows,
        changes=len(plan.changes),
        unchanged=plan.unchanged,
        problems=len(plan.problems),
        unknown=len(plan.unknown),
    )


def plan_report(
    config: RecruitmentConfig,
    catalog: Catalog,
    language: str,
    plan: ResultPlan,
    limit: int | None = None,
) -> str:
    """Summary, then every problem, then every change (at most `limit` lines of each)."""
    lines = [plan_summary(config, catalog, language, plan)]
    sections = (
        ("res_plan_problems", [problem_text(config, catalog, language, p) for p in plan.problems]),
        ("res_plan_unknown", [problem_text(config, catalog, language, p) for p in plan.unknown]),
        ("res_plan_changes", [change_text(catalog, language, c) for c in plan.changes]),
    )
    for heading, entries in sections:
        if not entries:
            continue
        lines += ["", catalog.text(language, heading)]
        shown = entries if limit is None else entries[:limit]
        lines += shown
        if len(entries) > len(shown):
            lines.append(catalog.text(language, "res_plan_more", count=len(entries) - len(shown)))
    return "\n".join(lines)


@dataclass(frozen=True)
class ReportRow:
    """One row of a results file in the dry-run table. `status`: change, unchanged, problem
    or unknown (names nobody registered here); `result` is the outcome label after the
    import (or the cell as typed when it cannot be read); `problem` the reason, if any."""

    line: int
    number: str | None
    name: str | None
    stage: str
    result: str
    status: str
    before: str | None = None
    problem: str | None = None


def report_rows(
    config: RecruitmentConfig,
    catalog: Catalog,
    language: str,
    rows: list[TableRow],
    plan: ResultPlan,
) -> list[ReportRow]:
    """The dry-run report of `rows` as a table, one entry per row in file order (the same
    facts as `plan_report`, which the chat and the command line print)."""
    stage = stage_label(config, catalog, language, plan.stage)
    changes = {change.line: change for change in plan.changes}
    problems = {problem.line: ("problem", problem) for problem in plan.problems}
    problems |= {problem.line: ("unknown", problem) for problem in plan.unknown}
    table = []
    for row in rows:
        outcome = parse_outcome(row.result)
        result = outcome_label(catalog, language, outcome) if outcome else row.result
        change = changes.get(row.line)
        if change is not None:
            table.append(
                ReportRow(
                    row.line,
                    change.number or row.number,
                    change.name or row.name,
                    stage,
                    result,
                    "change",
                    before=outcome_label(catalog, language, change.before),
                )
            )
        elif row.line in problems:
            status, problem = problems[row.line]
            text = problem_reason(config, catalog, language, problem)
            table.append(
                ReportRow(row.line, row.number, row.name, stage, result, status, problem=text)
            )
        else:
            table.append(ReportRow(row.line, row.number, row.name, stage, result, "unchanged"))
    return table
