"""The dry-run report of a results file or command, in staff's language."""

from __future__ import annotations

from core.catalog import Catalog
from core.recruitment import RecruitmentConfig
from services.results import Change, Problem, ResultPlan, stage_label


def outcome_label(catalog: Catalog, language: str, outcome: str | None) -> str:
    """`lulus`, `tidak lulus`, `belum ada hasil`."""
    return catalog.text(language, f"res_outcome_{outcome or 'none'}")


def problem_text(
    config: RecruitmentConfig, catalog: Catalog, language: str, problem: Problem
) -> str:
    """One problem as a line staff can act on."""
    params = dict(problem.params)
    for key in ("previous", "later"):
        if key in params:
            params[key] = stage_label(config, catalog, language, params[key])
    text = catalog.text(language, f"res_problem_{problem.code}", **params)
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


def plan_report(
    config: RecruitmentConfig,
    catalog: Catalog,
    language: str,
    plan: ResultPlan,
    limit: int | None = None,
) -> str:
    """Summary, then every problem, then every change (at most `limit` lines of each)."""
    lines = [
        catalog.text(
            language,
            "res_plan_summary",
            stage=stage_label(config, catalog, language, plan.stage),
            rows=plan.rows,
            changes=len(plan.changes),
            unchanged=plan.unchanged,
            problems=len(plan.problems),
            unknown=len(plan.unknown),
        )
    ]
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
