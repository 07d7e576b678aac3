"""The documents step: recent photo, KTP and diploma, checked on arrival and stored privately."""

from __future__ import annotations

from core.callbacks import DocumentAction, DocumentButton, MenuButton, MenuItem
from core.recruitment import Document
from core.types import (
    Button,
    IncomingFile,
    Reply,
)
from handlers.applicant.resume import resume_registration
from handlers.document_status import checklist, missing_documents
from handlers.flow import Step, StepName, Turn
from services.profile import profile_complete
from services.uploads import ACCEPTED_KINDS, Upload
from storage.models import Applicant, DocumentFile


class DocumentsStep(Step):
    """Asks for one document at a time (`doc`), or offers to replace one when all are in."""

    async def prompt(self, turn: Turn) -> Reply:
        key = turn.chat.data.get("doc")
        document = turn.deps.config.document_by_key(key) if key else None
        have = len(turn.deps.config.documents) - len(missing_documents(turn))
        header = turn.t(
            "documents_checklist",
            have=have,
            total=len(turn.deps.config.documents),
            checklist=checklist(turn),
        )
        if document is None:
            buttons = [
                Button(
                    id=DocumentButton(DocumentAction.REPLACE, doc.key).pack(),
                    label=turn.t("documents_replace", name=doc.name.get(turn.language)),
                    title=turn.t("documents_replace", name=doc.short_name.get(turn.language))
                    if doc.short_name
                    else None,
                )
                for doc in turn.deps.config.documents
            ]
            buttons.append(turn.button(MenuButton(MenuItem.HOME), "to_menu"))
            return Reply(text=f"{header}\n\n{turn.t('documents_all_in')}", buttons=buttons)
        accepted = (
            "documents_accepts_pdf" if "pdf" in document.accepts else "documents_accepts_image"
        )
        ask = turn.t(
            "documents_ask",
            name=document.name.get(turn.language),
            hint=document.hint.get(turn.language),
            accepted=turn.t(accepted),
        )
        buttons = [turn.button(DocumentButton(DocumentAction.LATER), "documents_later")]
        return Reply(text=f"{header}\n\n{ask}", buttons=buttons)

    async def on_text(self, turn: Turn, text: str) -> None:
        turn.say(turn.t("documents_send_a_file"))
        await turn.reprompt()

    async def on_choice(self, turn: Turn, choice: str) -> None:
        keys = {doc.key for doc in turn.deps.config.documents}
        button = DocumentButton.unpack(choice)
        if button == DocumentButton(DocumentAction.LATER):
            await _after_documents(turn)
        elif button and button.action is DocumentAction.REPLACE and button.key in keys:
            await turn.goto(StepName.DOCUMENTS, doc=button.key)
        else:
            await super().on_choice(turn, choice)

    async def on_file(self, turn: Turn) -> None:
        file = turn.incoming.file
        assert file is not None
        step_data = turn.chat.data
        if file.media_group_id and file.media_group_id == step_data.get("album"):
            return  # the rest of an album whose first picture was already answered
        if file.kind not in ACCEPTED_KINDS:
            turn.say(turn.t("documents_wrong_kind"))
            await turn.reprompt()
            return
        upload = turn.upload
        if upload is None or upload.key != step_data.get("doc"):
            await turn.reprompt()  # the question changed while the file was on its way
            return
        document = turn.deps.config.document_by_key(upload.key)
        assert document is not None
        if upload.refusal is not None:
            refusal = upload.refusal
            turn.say(
                turn.t(f"invalid_{refusal.code}", **refusal.params)
                + "\n\n"
                + turn.t("documents_try_again", name=document.name.get(turn.language))
            )
            return
        await _save(turn, document, upload, file)
        note = turn.t("documents_album_note") if file.media_group_id else ""
        turn.say(turn.t("documents_received", name=document.name.get(turn.language)) + note)
        missing = missing_documents(turn)
        if missing:
            await turn.goto(StepName.DOCUMENTS, doc=missing[0].key, album=file.media_group_id)
        else:
            await _after_documents(turn)


async def _save(turn: Turn, document: Document, upload: Upload, file: IncomingFile) -> None:
    assert upload.checked is not None and upload.path is not None and upload.sha256 is not None
    applicant: Applicant = turn.applicant
    previous = next((d for d in applicant.documents if d.kind == document.key), None)
    if previous is not None:
        await turn.audit.record(
            turn.actor,
            "document_replaced",
            turn.now,
            applicant.id,
            {"kind": document.key, "old_sha256": previous.sha256},
        )
        applicant.documents.remove(previous)
        await turn.session.flush()
        turn.files_to_forget.append(previous.path)
    checked = upload.checked
    applicant.documents.append(
        DocumentFile(
            kind=document.key,
            sha256=upload.sha256,
            path=upload.path,
            mime_type=checked.mime_type,
            size=upload.size,
            width=checked.width,
            height=checked.height,
            pages=checked.pages,
            source=turn.incoming.channel.value,
            received_at=turn.now,
        )
    )
    turn.upload_saved = True
    await turn.audit.record(
        turn.actor,
        "document_received",
        turn.now,
        applicant.id,
        {
            "kind": document.key,
            "sha256": upload.sha256,
            "size": upload.size,
            "mime_type": checked.mime_type,
            "as": file.kind.value,
        },
    )


async def _after_documents(turn: Turn) -> None:
    if turn.applicant.registration_number and not missing_documents(turn):
        turn.say(turn.t("documents_complete", number=turn.applicant.registration_number))
        await turn.goto(StepName.MENU)
    elif profile_complete(turn.applicant):
        await turn.goto(StepName.SUMMARY)
    else:
        await resume_registration(turn)
