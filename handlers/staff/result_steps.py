"""Staff record and publish selection results in chat: one result, a file, or a release.

Every step checks staff rights again; a results file is checked in full (a dry run) and applied
only when staff confirm and it is still valid at that moment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.callbacks import ResultAction, ResultButton
from core.catalog import Catalog
from core.formatting import format_datetime
from core.recruitment import RecruitmentConfig
from core.types import Reply
from handlers.flow import Step, StepData, StepName, Turn
from handlers.staff.rights import staff_only
from services.result_publish import PublicationPreview, preview_publication, publish_results
from services.result_report import change_text, plan_report, problem_text
from services.result_table import TableProblem, TableRow, parse_outcome
from services.results import (
    import_results,
    parse_stage,
    plan_results,
    record_single,
    single_row,
    stage_keys,
    stage_label,
)
from storage.results import Publications, StageResults

REPORT_LINES = 25
"""Lines of each section shown in chat; the CLI prints the whole report."""


class ImportDraft(StepData):
    """A results file read in chat, waiting for staff to apply it."""

    stage: str
    file: str
    rows: list[TableRow]


def _cancel(turn: Turn) -> Any:
    return turn.button(ResultButton(ResultAction.CANCEL), "res_cancel")


class _ResultStep(Step):
    async def on_choice(self, turn: Turn, choice: str) -> None:
        if not await staff_only(turn):
            return
        if ResultButton.unpack(choice) == ResultButton(ResultAction.CANCEL):
            turn.say(turn.t("res_cancelled"))
            await turn.goto(StepName.MENU)
        else:
            await self.choose(turn, choice)

    async def choose(self, turn: Turn, choice: str) -> None:
        await super().on_choice(turn, choice)


def _stage_argument(turn: Turn, argument: str) -> str | None:
    stage = parse_stage(argument, turn.deps.config) if argument else None
    if stage is None:
        turn.say(turn.t("res_stage_usage", stages=", ".join(stage_keys(turn.deps.config))))
    return stage


async def _start_for_stage(turn: Turn, argument: str, step_name: StepName) -> bool:
    """Go to `step_name` for the stage named in `argument`; False (usage given) when none."""
    stage = _stage_argument(turn, argument)
    if stage is None:
        return False
    await turn.goto(step_name, stage=stage)
    return True


async def start_import(turn: Turn, argument: str) -> bool:
    """`/hasil_impor 1`: wait for the results file of stage 1. False when not started."""
    return await _start_for_stage(turn, argument, StepName.RES_UPLOAD)


class UploadStep(_ResultStep):
    async def prompt(self, turn: Turn) -> Reply:
        label = stage_label(
            turn.deps.config, turn.deps.catalog, turn.language, turn.chat.data["stage"]
        )
        return Reply(text=turn.t("res_upload", stage=label), buttons=[_cancel(turn)])

    async def on_file(self, turn: Turn) -> None:
        if not await staff_only(turn):
            return
        table = turn.table
        if table is None or table.problem is not None or table.rows is None:
            problem = table.problem if table else TableProblem("table_unreadable")
            turn.say(turn.t(f"res_{problem.code}", **problem.params))
            await turn.reprompt()
            return
        stage = turn.chat.data["stage"]
        draft = ImportDraft(stage=stage, file=table.file_name[:100], rows=table.rows)
        await turn.goto(StepName.RES_CONFIRM, **draft.dump())


async def _current_plan(turn: Turn, draft: ImportDraft) -> Any:
    return await plan_results(turn.session, turn.deps.config, draft.stage, draft.rows)


class ConfirmImportStep(_ResultStep):
    async def prompt(self, turn: Turn) -> Reply:
        plan = await _current_plan(turn, ImportDraft.of(turn))
        config, catalog = turn.deps.config, turn.deps.catalog
        report = plan_report(config, catalog, turn.language, plan, REPORT_LINES)
        buttons = []
        if plan.ready() and plan.changes:
            buttons.append(
                turn.button(ResultButton(ResultAction.APPLY), "res_apply", count=len(plan.changes))
            )
        elif plan.ready(skip_unknown=True) and plan.changes:
            buttons.append(
                turn.button(
                    ResultButton(ResultAction.APPLY_KNOWN),
                    "res_apply_known",
                    count=len(plan.changes),
                    unknown=len(plan.unknown),
                )
            )
        footer = "res_confirm_ready" if buttons else "res_confirm_blocked"
        if plan.ready() and not plan.changes:
            footer = "res_confirm_nothing"
        buttons.append(_cancel(turn))
        return Reply(text=f"{report}\n\n{turn.t(footer)}", buttons=buttons)

    async def choose(self, turn: Turn, choice: str) -> None:
        action = button.action if (button := ResultButton.unpack(choice)) else None
        if action not in (ResultAction.APPLY, ResultAction.APPLY_KNOWN):
            await super().choose(turn, choice)
            return
        draft = ImportDraft.of(turn)
        skip_unknown = action is ResultAction.APPLY_KNOWN
        config = turn.deps.config
        plan = await import_results(
            turn.session,
            config,
            draft.stage,
            draft.rows,
            draft.file,
            turn.actor,
            turn.now,
            skip_unknown,
        )
        if not plan.ready(skip_unknown=skip_unknown) or not plan.changes:
            turn.say(turn.t("res_changed_meanwhile"))
            await turn.reprompt()
            return
        changed = len(plan.changes)
        turn.say(await _applied_text(turn, plan.stage, changed))
        await turn.goto(StepName.MENU)


async def _applied_text(turn: Turn, stage: str, changed: int) -> str:
    config, catalog = turn.deps.config, turn.deps.catalog
    return await applied_text(
        turn.session, config, catalog, turn.language, stage, changed, f"/umumkan {stage}"
    )


async def applied_text(
    session: AsyncSession,
    config: RecruitmentConfig,
    catalog: Catalog,
    language: str,
    stage: str,
    changed: int,
    command: str,
) -> str:
    """Results recorded: how many, and that applicants are told only once staff publish
    (with `command`, which also tells those whose result changed after publishing)."""
    published = stage in await Publications(session).all()
    label = stage_label(config, catalog, language, stage)
    key = "res_applied_published" if published else "res_applied"
    return catalog.text(language, key, count=changed, stage=label, command=command)


def published_text(
    config: RecruitmentConfig, catalog: Catalog, language: str, when: datetime | None
) -> str:
    """Whether (and when, in the recruitment's time zone) a stage was published."""
    if when is None:
        return "-"
    moment = format_datetime(when.astimezone(config.tz), language)
    return catalog.text(language, "res_published_at", when=moment)


def publish_preview_text(
    config: RecruitmentConfig, catalog: Catalog, language: str, preview: PublicationPreview
) -> str:
    """What publishing a stage would do (the same in staff chat and on the command line)."""
    return catalog.text(
        language,
        "res_publish_preview",
        stage=stage_label(config, catalog, language, preview.stage),
        passed=preview.passed,
        not_passed=preview.not_passed,
        waiting=preview.waiting,
        to_tell=preview.to_tell,
        published=published_text(config, catalog, language, preview.published_at),
    )


async def set_single(turn: Turn, argument: str) -> None:
    """`/hasil PMK24-00012 1 tidak lulus KTP tidak terbaca`: record one result at once."""
    words = argument.split()
    if words[1:2] and words[1].casefold() == "tahap" and len(words) > 2:
        words[1:3] = [words[1] + words[2]]
    stage = parse_stage(words[1], turn.deps.config) if len(words) > 2 else None
    if stage is None:
        turn.say(turn.t("res_set_usage"))
        return
    outcome_words = 0
    for count in (3, 2, 1):
        if len(words) >= 2 + count and parse_outcome(" ".join(words[2 : 2 + count])):
            outcome_words = count
            break
    if not outcome_words:
        turn.say(turn.t("res_set_usage"))
        return
    row = single_row(
        words[0],
        " ".join(words[2 : 2 + outcome_words]),
        " ".join(words[2 + outcome_words :]),
    )
    config, catalog = turn.deps.config, turn.deps.catalog
    plan = await record_single(turn.session, config, stage, row, turn.actor, turn.now, "chat")
    problems = plan.problems + plan.unknown
    if problems:
        turn.say(problem_text(config, catalog, turn.language, problems[0]))
        return
    if not plan.changes:
        turn.say(turn.t("res_set_unchanged"))
        return
    turn.say(
        f"{change_text(catalog, turn.language, plan.changes[0])}\n"
        + await _applied_text(turn, stage, 1)
    )


async def start_publish(turn: Turn, argument: str) -> bool:
    """`/umumkan 1`: show what publishing stage 1 would do, and ask to confirm."""
    return await _start_for_stage(turn, argument, StepName.RES_PUBLISH)


class PublishStep(_ResultStep):
    async def prompt(self, turn: Turn) -> Reply:
        config, catalog = turn.deps.config, turn.deps.catalog
        stage = turn.chat.data["stage"]
        preview = await preview_publication(turn.session, config, catalog, stage)
        text = publish_preview_text(config, catalog, turn.language, preview)
        publish = turn.button(
            ResultButton(ResultAction.PUBLISH), "res_publish", count=preview.to_tell
        )
        buttons = [publish, _cancel(turn)]
        return Reply(text=text, buttons=buttons)

    async def choose(self, turn: Turn, choice: str) -> None:
        if ResultButton.unpack(choice) != ResultButton(ResultAction.PUBLISH):
            await super().choose(turn, choice)
            return
        stage = turn.chat.data["stage"]
        config, catalog = turn.deps.config, turn.deps.catalog
        broadcast = await publish_results(
            turn.session, config, catalog, stage, turn.actor, turn.now
        )
        label = stage_label(config, catalog, turn.language, stage)
        if broadcast is None:
            turn.say(turn.t("res_published_nobody", stage=label))
        else:
            broadcast.progress_channel = turn.incoming.channel.value
            broadcast.progress_chat = turn.incoming.user_id
            turn.replies.append(
                Reply(
                    text=turn.t(
                        "res_published", stage=label, count=broadcast.total, id=broadcast.id
                    ),
                    track=f"broadcast:{broadcast.id}",
                )
            )
        await turn.goto(StepName.MENU)


async def results_summary(turn: Turn) -> None:
    """`/hasil_rekap`: per stage, how many passed, did not, wait; and whether it is published."""
    config, catalog = turn.deps.config, turn.deps.catalog
    turn.say(await results_summary_text(turn.session, config, catalog, turn.language))


async def results_summary_text(
    session: AsyncSession, config: RecruitmentConfig, catalog: Catalog, language: str
) -> str:
    """Per stage: how many passed, did not, are pending; and when it was published."""
    counts = await StageResults(session).counts()
    published = await Publications(session).all()
    lines = []
    for stage in stage_keys(config):
        stage_counts = counts.get(stage, {})
        publication = published.get(stage)
        lines.append(
            catalog.text(
                language,
                "res_summary_line",
                stage=stage_label(config, catalog, language, stage),
                passed=stage_counts.get("passed", 0),
                not_passed=stage_counts.get("not_passed", 0),
                pending=stage_counts.get("pending", 0),
                published=published_text(
                    config, catalog, language, publication.published_at if publication else None
                ),
            )
        )
    return catalog.text(language, "res_summary", lines="\n".join(lines))
