"""Staff commands in chat. Rights are checked on every command, not only when a menu is shown."""

from __future__ import annotations

from handlers.broadcast_steps import broadcast_cancel, broadcast_status, start_broadcast
from handlers.document_status import checklist
from handlers.flow import Turn
from handlers.rights import is_staff
from handlers.types import OutgoingFile, Reply
from handlers.window import registration_window
from storage.files import export_name
from storage.repositories import REGISTRATION_CLOSED

STAFF_COMMANDS = (
    "tutup_pendaftaran",
    "buka_pendaftaran",
    "status_pendaftaran",
    "dokumen",
    "siaran",
    "siaran_status",
    "siaran_batal",
)


async def run_staff_command(turn: Turn, command: str, argument: str) -> None:
    """Run a staff command, or refuse it (and log the attempt) for anyone else."""
    if not await is_staff(turn):
        await turn.audit.record(
            turn.actor,
            "staff_command_refused",
            turn.now,
            detail={
                "command": command,
            },
        )
        turn.say(turn.t("staff_only"))
        await turn.reprompt()
        return
    if command == "tutup_pendaftaran":
        reason = argument[:200] or "kuota terpenuhi"
        await turn.flags.set(
            REGISTRATION_CLOSED, {"closed": True, "reason": reason}, turn.actor, turn.now
        )
        await turn.audit.record(
            turn.actor, "registration_closed", turn.now, detail={"reason": reason}
        )
        turn.say(turn.t("staff_closed", reason=reason))
    elif command == "siaran":
        await start_broadcast(turn)
        return
    elif command == "siaran_status":
        await broadcast_status(turn, argument.strip())
    elif command == "siaran_batal":
        await broadcast_cancel(turn, argument.strip())
    elif command == "dokumen":
        await _send_documents(turn, argument.strip().upper())
    elif command == "buka_pendaftaran":
        await turn.flags.set(REGISTRATION_CLOSED, {"closed": False}, turn.actor, turn.now)
        await turn.audit.record(turn.actor, "registration_reopened", turn.now)
        turn.say(turn.t("staff_reopened"))
    else:
        window = await registration_window(turn.deps.config, turn.flags, turn.now)
        turn.say(
            turn.t(
                "staff_status",
                state=turn.t(f"window_{window.state.value}"),
                total=await turn.applicants.count_all(),
                confirmed=await turn.applicants.count_confirmed(),
                quota=turn.deps.config.quota or "-",
            )
        )
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
                path=str(turn.deps.files.path(document.path)),
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
