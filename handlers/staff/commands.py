"""Staff commands in chat. Rights are checked on every command, not only when a menu is shown."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog import Catalog
from core.recruitment import RecruitmentConfig
from core.types import OutgoingFile, Reply
from handlers.document_status import checklist
from handlers.flow import Turn
from handlers.staff.broadcast_steps import broadcast_cancel, broadcast_status, start_broadcast
from handlers.staff.questions import answer, list_questions
from handlers.staff.result_steps import results_summary, set_single, start_import, start_publish
from handlers.staff.rights import is_staff
from services.schedule import describe_jobs
from services.sobat import answer_report, sobat_summary
from services.window import close_early, registration_window, reopen
from storage.files import export_name
from storage.repositories import Applicants, Flags


async def _close(turn: Turn, argument: str) -> bool:
    reason = argument[:200] or "kuota terpenuhi"
    await close_early(turn.session, reason, turn.actor, turn.now)
    turn.say(turn.t("staff_closed", reason=reason))
    return False


async def _reopen(turn: Turn, argument: str) -> bool:
    await reopen(turn.session, turn.actor, turn.now)
    turn.say(turn.t("staff_reopened"))
    return False


async def _registration_status(turn: Turn, argument: str) -> bool:
    config, catalog = turn.deps.config, turn.deps.catalog
    turn.say(await registration_status_text(turn.session, config, catalog, turn.language, turn.now))
    return False


async def registration_status_text(
    session: AsyncSession,
    config: RecruitmentConfig,
    catalog: Catalog,
    language: str,
    now: datetime,
) -> str:
    """Whether registration is open at `now`, and how many applicants there are."""
    window = await registration_window(config, Flags(session), now)
    applicants = Applicants(session)
    return catalog.text(
        language,
        "staff_status",
        state=catalog.text(language, f"window_{window.state.value}"),
        total=await applicants.count_all(),
        confirmed=await applicants.count_confirmed(),
        quota=config.quota or "-",
    )


async def _broadcast(turn: Turn, argument: str) -> bool:
    await start_broadcast(turn)
    return True


async def _broadcast_status(turn: Turn, argument: str) -> bool:
    await broadcast_status(turn, argument)
    return False


async def _broadcast_cancel(turn: Turn, argument: str) -> bool:
    await broadcast_cancel(turn, argument)
    return False


async def _documents(turn: Turn, argument: str) -> bool:
    await _send_documents(turn, argument.upper())
    return False


async def _set_result(turn: Turn, argument: str) -> bool:
    await set_single(turn, argument)
    return False


async def _results_summary(turn: Turn, argument: str) -> bool:
    await results_summary(turn)
    return False


async def _jobs(turn: Turn, argument: str) -> bool:
    config, catalog = turn.deps.config, turn.deps.catalog
    staff = turn.deps.staff_identities
    turn.say(await describe_jobs(turn.session, config, catalog, turn.now, turn.language, staff))
    return False


async def _sobat_summary(turn: Turn, argument: str) -> bool:
    config, catalog = turn.deps.config, turn.deps.catalog
    turn.say(await sobat_summary(turn.session, config, catalog, turn.language))
    return False


async def _sobat_answer(turn: Turn, argument: str) -> bool:
    number, _, answer = argument.partition(" ")
    if not number.isdigit() or not answer.strip():
        turn.say(turn.t("sobat_answer_usage"))
        return False
    config, catalog = turn.deps.config, turn.deps.catalog
    report = await answer_report(
        turn.session, config, catalog, int(number), answer, turn.actor, turn.now
    )
    turn.say(turn.t("sobat_answer_sent" if report else "sobat_answer_not_found", id=number))
    return False


StaffCommand = Callable[[Turn, str], Awaitable[bool]]
"""Runs a staff command; True when it began a flow whose step already asked its question."""

STAFF_COMMANDS: dict[str, StaffCommand] = {
    "tutup_pendaftaran": _close,
    "buka_pendaftaran": _reopen,
    "status_pendaftaran": _registration_status,
    "dokumen": _documents,
    "siaran": _broadcast,
    "siaran_status": _broadcast_status,
    "siaran_batal": _broadcast_cancel,
    "hasil": _set_result,
    "hasil_impor": start_import,
    "hasil_rekap": _results_summary,
    "umumkan": start_publish,
    "jadwal_kirim": _jobs,
    "sobat_rekap": _sobat_summary,
    "sobat_jawab": _sobat_answer,
    "pertanyaan": list_questions,
    "jawab": answer,
}


async def run_staff_command(turn: Turn, command: str, argument: str) -> None:
    """Run a staff command, or refuse it (and log the attempt) for anyone else."""
    if not await is_staff(turn):
        await turn.audit.record(
            turn.actor, "staff_command_refused", turn.now, detail={"command": command}
        )
        turn.say(turn.t("staff_only"))
        await turn.reprompt()
        return
    if not await STAFF_COMMANDS[command](turn, argument.strip()):
        await turn.reprompt()


async def _send_documents(turn: Turn, number: str) -> None:
    """Send an applicant's documents to staff (logged: staff access to personal data)."""
    if not number:
        turn.say(turn.t("staff_documents_usage"))
        return
    applicant = await turn.applicants.by_registration_number(number)
    if applicant is None:
        turn.say(turn.t("staff_documents_not_found", number=number[:32]))
        return
    files = []
    for document in applicant.documents:
        spec = turn.deps.config.document_by_key(document.kind)
        label = spec.name.get(turn.language) if spec else document.kind
        files.append(
            OutgoingFile(
                path=document.path,
                file_name=export_name(number, document.kind, document.path),
                mime_type=document.mime_type,
                caption=turn.t("staff_document_caption", number=number, document=label),
            )
        )
    await turn.audit.record(
        turn.actor,
        "documents_viewed",
        turn.now,
        applicant.id,
        {"kinds": sorted(document.kind for document in applicant.documents)},
    )
    turn.replies.append(
        Reply(
            text=turn.t(
                "staff_documents",
                number=number,
                name=applicant.full_name or "-",
                count=len(files),
                checklist=checklist(turn, applicant),
            ),
            files=files,
        )
    )
