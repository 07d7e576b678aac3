"""A results file checked for the desk: the same dry run as the chat and the command line,
as a table."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog import Catalog
from core.recruitment import RecruitmentConfig
from services.result_report import ReportRow, plan_summary, report_rows
from services.result_table import TableRow
from services.results import ResultPlan, plan_results


@dataclass(frozen=True)
class DryRun:
    """What importing a file would do: the summary line, one entry per row, and the plan
    (`plan.ready()`: it can be applied; `plan.ready(skip_unknown=True)`: only by skipping the
    rows naming nobody registered here)."""

    stage: str
    file_name: str
    summary: str
    rows: list[ReportRow]
    plan: ResultPlan


async def dry_run(
    session: AsyncSession,
    config: RecruitmentConfig,
    catalog: Catalog,
    stage: str,
    rows: list[TableRow],
    file_name: str,
    language: str = "id",
) -> DryRun:
    """Check every row of a file read by `services.uploads.read_results_file` against the
    database; nothing changes (apply with `services.results.import_results`)."""
    plan = await plan_results(session, config, stage, rows)
    return DryRun(
        stage,
        file_name,
        plan_summary(config, catalog, language, plan),
        report_rows(config, catalog, language, rows, plan),
        plan,
    )
