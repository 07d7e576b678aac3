"""One applicant, two chat apps: link a Telegram and a WhatsApp chat that prove the same number.

WhatsApp vouches for the sender's number; on Telegram the applicant shares their own contact.
Two chats are linked only when both proved the same number and the applicant confirms, and only
when one side holds no registration yet (its chat then joins the other); never on a guess.
"""

from __future__ import annotations

from core.callbacks import LinkAction, LinkButton, MenuButton, MenuItem
from core.types import Button, Channel, Reply
from handlers.flow import Step, StepName, Turn
from storage.chat_sessions import ChatSessions
from storage.models import Applicant, ChatIdentity
from storage.repositories import ChatIdentities

CHANNEL_NAMES = {"telegram": "Telegram", "whatsapp": "WhatsApp"}


def normalise_phone(number: str) -> str | None:
    """`+6281234567890` from what a platform gives (`6281234567890`, `+62 812-3456-7890`)."""
    digits = "".join(character for character in number if character.isdigit())
    return f"+{digits}" if 8 <= len(digits) <= 15 else None


async def _identity(turn: Turn) -> ChatIdentity | None:
    return await ChatIdentities(turn.session).of_chat(
        turn.incoming.channel.value, turn.incoming.user_id
    )


async def _other_chat(turn: Turn, phone: str) -> ChatIdentity | None:
    """A chat of another applicant, on another app, that proved the same number."""
    return await ChatIdentities(turn.session).proving_phone(
        phone, turn.incoming.channel.value, turn.applicant.id
    )


def _holds_registration(applicant: Applicant) -> bool:
    return applicant.consent_at is not None or applicant.registration_number is not None


async def start_link(turn: Turn) -> None:
    """From "My data": prove the number (Telegram) or look for the other chat at once."""
    identity = await _identity(turn)
    if identity is not None and identity.verified_phone:
        await offer_link(turn, identity.verified_phone, explain_none=True)
    elif turn.incoming.channel is Channel.TELEGRAM:
        await turn.goto(StepName.LINK_PHONE)
    else:
        turn.say(turn.t("link_unavailable"))
        await turn.goto(StepName.MENU)


async def offer_link(turn: Turn, phone: str, explain_none: bool = False) -> bool:
    """Ask to link with the other app's chat of the same number; False when there is none."""
    other = await _other_chat(turn, phone)
    if other is None:
        if explain_none:
            turn.say(turn.t("link_none", phone=phone))
            await turn.goto(StepName.MENU)
        return False
    await turn.goto(StepName.LINK_CONFIRM, identity=other.id, channel=other.channel)
    return True


class SharePhoneStep(Step):
    """Telegram: the applicant shares their own contact, which proves their number."""

    async def prompt(self, turn: Turn) -> Reply:
        return Reply(
            text=turn.t("link_share_phone"),
            buttons=[
                Button(
                    id=LinkButton(LinkAction.PHONE).pack(),
                    label=turn.t("link_share_button"),
                    share_phone=True,
                ),
                turn.button(MenuButton(MenuItem.HOME), "to_menu"),
            ],
        )

    async def on_choice(self, turn: Turn, choice: str) -> None:
        if LinkButton.unpack(choice) != LinkButton(LinkAction.PHONE):
            await super().on_choice(turn, choice)
            return
        phone = normalise_phone(turn.incoming.verified_phone or "")
        if phone is None:
            turn.say(turn.t("link_own_number"))
            await turn.reprompt()
            return
        identity = await _identity(turn)
        if identity is not None:
            identity.verified_phone = phone
        await offer_link(turn, phone, explain_none=True)


class ConfirmLinkStep(Step):
    """Both chats proved the same number: the applicant says yes before anything moves."""

    async def prompt(self, turn: Turn) -> Reply:
        channel = CHANNEL_NAMES.get(turn.chat.data.get("channel", ""), "-")
        return Reply(
            text=turn.t("link_confirm", channel=channel),
            buttons=[
                turn.button(LinkButton(LinkAction.YES), "link_yes"),
                turn.button(LinkButton(LinkAction.NO), "link_no"),
            ],
        )

    async def on_choice(self, turn: Turn, choice: str) -> None:
        button = LinkButton.unpack(choice)
        if button == LinkButton(LinkAction.NO):
            turn.say(turn.t("link_declined"))
            await turn.goto(StepName.MENU)
        elif button == LinkButton(LinkAction.YES):
            await self._link(turn)
        else:
            await super().on_choice(turn, choice)

    async def _link(self, turn: Turn) -> None:
        other = await ChatIdentities(turn.session).get(turn.chat.data.get("identity"))
        mine = await _identity(turn)
        if other is None or mine is None or other.applicant_id == turn.applicant.id:
            turn.say(turn.t("stale_button"))
            await turn.goto(StepName.MENU)
            return
        theirs = await turn.applicants.get(other.applicant_id)
        assert theirs is not None
        here = turn.applicant
        if _holds_registration(here) and _holds_registration(theirs):
            turn.say(turn.t("link_both_registered"))
            await turn.goto(StepName.MENU)
            return
        keep, drop = (theirs, here) if _holds_registration(theirs) else (here, theirs)
        await turn.applicants.merge(keep, drop, mine if drop is here else other)
        if drop is theirs:  # the other chat's step belonged to the applicant just erased
            await ChatSessions(turn.session).move(other.channel, other.external_id, StepName.MENU)
        await turn.audit.record(
            turn.actor,
            "chats_linked",
            turn.now,
            keep.id,
            {"channels": sorted({mine.channel, other.channel}), "removed": drop.id},
        )
        turn.known_applicant = keep
        turn.say(turn.t("link_done", channel=CHANNEL_NAMES.get(other.channel, other.channel)))
        await turn.goto(StepName.MENU)
