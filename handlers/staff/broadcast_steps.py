"""Staff compose a broadcast in chat: message, audience, preview and count, confirm."""

from __future__ import annotations

from core.callbacks import (
    AudienceButton,
    AudienceChannelButton,
    AudienceKecamatanButton,
    AudienceStageButton,
    BroadcastAction,
    BroadcastButton,
)
from core.types import Button, Reply
from handlers.flow import Step, StepData, StepName, Turn
from handlers.staff.rights import staff_only
from services.broadcasts import (
    MAX_BROADCAST_TEXT,
    RESULT_KINDS,
    Attachment,
    Audience,
    audience_label,
    cancel_broadcast,
    count_recipients,
    create_broadcast,
    preview_message,
    progress_text,
    published_stages,
)
from services.profile import OUTSIDE
from services.results import stage_keys, stage_label
from storage.broadcasts import Broadcasts
from storage.outbox import Outbox


class BroadcastDraft(StepData):
    """What staff composed so far: the text, an attachment, then the audience."""

    text: str
    attachment: Attachment | None = None
    audience: str | None = None
    """As `Audience.parse` reads it: `all`, `kecamatan:3528010`, `passed:1` …"""


async def start_broadcast(turn: Turn) -> None:
    """`/siaran`: begin composing."""
    await turn.goto(StepName.BC_COMPOSE)


class _BroadcastStep(Step):
    async def on_choice(self, turn: Turn, choice: str) -> None:
        if not await staff_only(turn):
            return
        if BroadcastButton.unpack(choice) == BroadcastButton(BroadcastAction.CANCEL):
            turn.say(turn.t("bc_cancelled"))
            await turn.goto(StepName.MENU)
        else:
            await self.choose(turn, choice)

    async def choose(self, turn: Turn, choice: str) -> None:
        await super().on_choice(turn, choice)


def _cancel_button(turn: Turn) -> Button:
    return turn.button(BroadcastButton(BroadcastAction.CANCEL), "bc_cancel")


class ComposeStep(_BroadcastStep):
    free_text = True

    async def prompt(self, turn: Turn) -> Reply:
        return Reply(
            text=turn.t("bc_compose", limit=MAX_BROADCAST_TEXT), buttons=[_cancel_button(turn)]
        )

    async def on_text(self, turn: Turn, text: str) -> None:
        if not await staff_only(turn):
            return
        if len(text) > MAX_BROADCAST_TEXT:
            turn.say(turn.t("too_long", length=len(text), limit=MAX_BROADCAST_TEXT))
            return
        await turn.goto(StepName.BC_AUDIENCE, **BroadcastDraft(text=text).dump())

    async def on_file(self, turn: Turn) -> None:
        if not await staff_only(turn):
            return
        upload = turn.upload
        caption = (turn.incoming.text or "").strip()
        if upload is None or upload.refusal is not None or upload.checked is None:
            refusal = upload.refusal if upload else None
            reason = turn.t(f"invalid_{refusal.code}", **refusal.params) if refusal else ""
            turn.say(f"{reason}\n\n{turn.t('bc_attachment_refused')}".strip())
            return
        if len(caption) > MAX_BROADCAST_TEXT:
            turn.say(turn.t("too_long", length=len(caption), limit=MAX_BROADCAST_TEXT))
            return
        turn.upload_saved = True
        name = turn.incoming.file.file_name if turn.incoming.file else None
        attachment = Attachment(
            path=upload.path,
            name=name or f"lampiran.{upload.checked.extension}",
            mime_type=upload.checked.mime_type,
        )
        draft = BroadcastDraft(text=caption, attachment=attachment)
        await turn.goto(StepName.BC_AUDIENCE, **draft.dump())


AUDIENCE_BUTTONS = ("all", "incomplete", "complete", "kecamatan", "channel", "stage")


class AudienceStep(_BroadcastStep):
    async def prompt(self, turn: Turn) -> Reply:
        buttons = []
        for kind in AUDIENCE_BUTTONS:
            label = turn.t(f"bc_audience_{kind}")
            if kind in ("all", "incomplete", "complete"):
                count = await count_recipients(turn.session, Audience(kind))
                label = f"{label} ({count})"
            buttons.append(Button(id=AudienceButton(kind).pack(), label=label))
        buttons.append(_cancel_button(turn))
        return Reply(text=turn.t("bc_audience"), buttons=buttons)

    async def choose(self, turn: Turn, choice: str) -> None:
        kind = button.kind if (button := AudienceButton.unpack(choice)) else None
        draft = BroadcastDraft.of(turn)
        if kind in ("all", "incomplete", "complete"):
            await _confirm(turn, draft, kind)
        elif kind == "kecamatan":
            await turn.goto(StepName.BC_KECAMATAN, **draft.dump())
        elif kind == "channel":
            await turn.goto(StepName.BC_CHANNEL, **draft.dump())
        elif kind == "stage":
            await turn.goto(StepName.BC_STAGE, **draft.dump())
        else:
            await super().choose(turn, choice)


class StageStep(_BroadcastStep):
    """Those who passed (or did not pass) a stage whose results are published."""

    async def prompt(self, turn: Turn) -> Reply:
        config, catalog = turn.deps.config, turn.deps.catalog
        buttons = []
        for stage in await published_stages(turn.session, config):
            label = stage_label(config, catalog, turn.language, stage)
            short = stage_label(config, catalog, turn.language, stage, short=True)
            for kind in RESULT_KINDS:
                count = await count_recipients(turn.session, Audience(kind, stage))
                text = turn.t(f"bc_audience_{kind}", stage=label)
                title = turn.t(f"bc_audience_{kind}_title", stage=short)
                buttons.append(
                    Button(
                        id=AudienceStageButton(kind, stage).pack(),
                        label=f"{text} ({count})",
                        title=f"{title} ({count})",
                    )
                )
        key = "bc_pick_stage" if buttons else "bc_no_published_stage"
        return Reply(text=turn.t(key), buttons=[*buttons, _cancel_button(turn)])

    async def choose(self, turn: Turn, choice: str) -> None:
        button = AudienceStageButton.unpack(choice)
        published = await published_stages(turn.session, turn.deps.config)
        if button and button.kind in RESULT_KINDS and button.stage in published:
            await _confirm(turn, BroadcastDraft.of(turn), f"{button.kind}:{button.stage}")
        else:
            await super().choose(turn, choice)


class KecamatanStep(_BroadcastStep):
    async def prompt(self, turn: Turn) -> Reply:
        config = turn.deps.config
        buttons = [
            Button(id=AudienceKecamatanButton(k.code).pack(), label=k.name)
            for k in config.kecamatan
        ]
        outside = turn.t("kecamatan_outside", regency=config.office.regency_name)
        buttons += [
            Button(id=AudienceKecamatanButton(OUTSIDE).pack(), label=outside),
            _cancel_button(turn),
        ]
        return Reply(text=turn.t("bc_pick_kecamatan"), buttons=buttons)

    async def choose(self, turn: Turn, choice: str) -> None:
        code = button.code if (button := AudienceKecamatanButton.unpack(choice)) else None
        codes = {k.code for k in turn.deps.config.kecamatan} | {OUTSIDE}
        if code in codes:
            await _confirm(turn, BroadcastDraft.of(turn), f"kecamatan:{code}")
        else:
            await super().choose(turn, choice)


class ChannelStep(_BroadcastStep):
    async def prompt(self, turn: Turn) -> Reply:
        buttons = [
            Button(id=AudienceChannelButton("telegram").pack(), label="Telegram"),
            Button(id=AudienceChannelButton("whatsapp").pack(), label="WhatsApp"),
            _cancel_button(turn),
        ]
        return Reply(text=turn.t("bc_pick_channel"), buttons=buttons)

    async def choose(self, turn: Turn, choice: str) -> None:
        channel = button.channel if (button := AudienceChannelButton.unpack(choice)) else None
        if channel in ("telegram", "whatsapp"):
            await _confirm(turn, BroadcastDraft.of(turn), f"channel:{channel}")
        else:
            await super().choose(turn, choice)


async def _confirm(turn: Turn, draft: BroadcastDraft, audience: str) -> None:
    """The audience is chosen: show the preview and the count, and ask to send."""
    chosen = draft.model_copy(update={"audience": audience})
    await turn.goto(StepName.BC_CONFIRM, **chosen.dump())


def _audience(turn: Turn, draft: BroadcastDraft) -> Audience:
    config = turn.deps.config
    codes = {k.code for k in config.kecamatan}
    assert draft.audience is not None  # the confirm step is reached with one
    return Audience.parse(draft.audience, codes, stage_keys(config))


class ConfirmStep(_BroadcastStep):
    async def prompt(self, turn: Turn) -> Reply:
        draft = BroadcastDraft.of(turn)
        audience = _audience(turn, draft)
        count = await count_recipients(turn.session, audience)
        preview = await preview_message(turn.session, audience, draft.text) or "-"
        attachment = draft.attachment
        text = turn.t(
            "bc_confirm",
            preview=preview,
            count=count,
            audience=audience_label(turn.deps.config, turn.deps.catalog, turn.language, audience),
            attachment=attachment.name if attachment else "-",
        )
        buttons = [
            turn.button(BroadcastButton(BroadcastAction.SEND), "bc_send", count=count),
            turn.button(BroadcastButton(BroadcastAction.REWRITE), "bc_rewrite"),
            _cancel_button(turn),
        ]
        return Reply(text=text, buttons=buttons)

    async def choose(self, turn: Turn, choice: str) -> None:
        action = button.action if (button := BroadcastButton.unpack(choice)) else None
        if action is BroadcastAction.REWRITE:
            await turn.goto(StepName.BC_COMPOSE)
        elif action is BroadcastAction.SEND:
            await _send(turn)
        else:
            await super().choose(turn, choice)


async def _send(turn: Turn) -> None:
    draft = BroadcastDraft.of(turn)
    config = turn.deps.config
    broadcast = await create_broadcast(
        turn.session,
        text=draft.text,
        audience=_audience(turn, draft),
        created_by=turn.actor,
        now=turn.now,
        quiet_hours=config.quiet_hours,
        attachment=draft.attachment,
    )
    broadcast.progress_channel = turn.incoming.channel.value
    broadcast.progress_chat = turn.incoming.user_id
    turn.replies.append(
        Reply(
            text=turn.t("bc_queued", id=broadcast.id, count=broadcast.total),
            track=f"broadcast:{broadcast.id}",
        )
    )
    await turn.goto(StepName.MENU)


async def broadcast_status(turn: Turn, argument: str) -> None:
    """`/siaran_status [N]`: progress of broadcast N (default: the newest)."""
    broadcasts = Broadcasts(turn.session)
    if argument.isdigit():
        broadcast = await broadcasts.get(int(argument))
    else:
        broadcast = next(iter(await broadcasts.newest(1)), None)
    if broadcast is None:
        turn.say(turn.t("bc_not_found"))
        return
    counts = await Outbox(turn.session).progress(broadcast.id)
    turn.say(progress_text(turn.deps.catalog, broadcast, counts))


async def broadcast_cancel(turn: Turn, argument: str) -> None:
    """`/siaran_batal N`: stop what is not yet sent."""
    if not argument.isdigit():
        turn.say(turn.t("bc_cancel_usage"))
        return
    stopped = await cancel_broadcast(turn.session, int(argument), turn.actor, turn.now)
    turn.say(turn.t("bc_cancel_done", id=argument, stopped=stopped))
