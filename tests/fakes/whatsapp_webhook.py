"""Builders of WhatsApp Cloud API webhook POST bodies, shaped like the ones Meta sends.

Every payload is ``{"object": "whatsapp_business_account", "entry": [{"id": <WABA id>,
"changes": [{"field": "messages", "value": {...}}]}]}`` where ``value`` holds
``messaging_product``, ``metadata`` (``display_phone_number``, ``phone_number_id``) and either

* ``contacts`` + ``messages`` (something an applicant sent; ``contacts[].user_id`` is the
  business-scoped user id, ``wa_id`` the phone number, absent for username users), or
* ``statuses`` (``sent``/``delivered``/``read``/``failed`` of a message the bot sent; a failed
  status carries ``errors[]`` and, per Meta's BSUID-era format, no ``contacts`` by default).

Typical use with the fake Graph API::

    hooks = WebhookBuilder(phone_id=fake.phone_id, waba_id=fake.waba_id)
    payload = hooks.image(fake.add_media(jpeg, "image/jpeg"), caption="KTP saya")
    body, headers = signed_request(payload, fake.app_secret)
    await client.post("/webhook/whatsapp", content=body, headers=headers)

Ids (``wamid.…``) and timestamps (unix seconds, sent as strings like Meta does) are fresh for
every message unless given.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from tests.fakes.graph_api import (
    DEFAULT_DISPLAY_PHONE_NUMBER,
    DEFAULT_PHONE_ID,
    DEFAULT_WABA_ID,
    GraphError,
    new_wamid,
)

__all__ = [
    "DEFAULT_SENDER",
    "SIGNATURE_HEADER",
    "Sender",
    "WebhookBuilder",
    "batch",
    "encode",
    "message_id_of",
    "new_wamid",
    "sign",
    "signed_request",
    "verification_query",
]

#: The header Meta signs webhook POSTs with.
SIGNATURE_HEADER = "X-Hub-Signature-256"

Timestamp = int | float | dt.datetime | None


@dataclass(frozen=True)
class Sender:
    """A WhatsApp user as webhooks describe them.

    ``user_id`` is the business-scoped user id (BSUID, always present); ``wa_id`` the phone
    number (``None`` for a user with a username whose number Meta withholds).
    """

    user_id: str = "ID.1349120865530274"
    wa_id: str | None = "6281234567890"
    name: str | None = "Pelamar Uji"
    username: str | None = None
    parent_user_id: str | None = None

    def contact(self) -> dict[str, Any]:
        """This user as an entry of ``value.contacts``."""
        profile: dict[str, Any] = {}
        if self.name is not None:
            profile["name"] = self.name
        if self.username is not None:
            profile["username"] = self.username
        contact: dict[str, Any] = {"profile": profile}
        if self.wa_id:
            contact["wa_id"] = self.wa_id
        contact["user_id"] = self.user_id
        if self.parent_user_id:
            contact["parent_user_id"] = self.parent_user_id
        return contact


DEFAULT_SENDER = Sender()


def _timestamp(value: Timestamp) -> str:
    if value is None:
        return str(int(time.time()))
    if isinstance(value, dt.datetime):
        return str(int(value.timestamp()))
    return str(int(value))


def _b64_sha256(content: bytes | None) -> str:
    data = content if content is not None else new_wamid().encode()
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class WebhookBuilder:
    """Builds webhook payloads for one business phone number (methods return fresh dicts)."""

    def __init__(
        self,
        *,
        phone_id: str = DEFAULT_PHONE_ID,
        display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
        waba_id: str = DEFAULT_WABA_ID,
        sender: Sender = DEFAULT_SENDER,
    ) -> None:
        """Args:
        phone_id: ``metadata.phone_number_id`` (the bot's number id).
        display_phone_number: ``metadata.display_phone_number``.
        waba_id: ``entry[].id``.
        sender: default user for messages and statuses.
        """
        self.phone_id = phone_id
        self.display_phone_number = display_phone_number
        self.waba_id = waba_id
        self.sender = sender

    # ------------------------------------------------------------------ envelope

    def envelope(self, value: dict[str, Any], *, field: str = "messages") -> dict[str, Any]:
        """Wrap a ``value`` (adds ``messaging_product`` and ``metadata``) in entry/changes."""
        full = {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": self.display_phone_number,
                "phone_number_id": self.phone_id,
            },
            **copy.deepcopy(value),
        }
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": self.waba_id, "changes": [{"value": full, "field": field}]}],
        }

    def message(
        self,
        msg_type: str,
        content: dict[str, Any] | list[Any] | None,
        *,
        sender: Sender | None = None,
        message_id: str | None = None,
        timestamp: Timestamp = None,
        context: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Any incoming message: ``{"type": msg_type, msg_type: content}`` from ``sender``."""
        user = sender or self.sender
        message: dict[str, Any] = {}
        if user.wa_id:
            message["from"] = user.wa_id
        message["from_user_id"] = user.user_id
        if user.parent_user_id:
            message["from_parent_user_id"] = user.parent_user_id
        message["id"] = message_id or new_wamid(user.wa_id or "")
        message["timestamp"] = _timestamp(timestamp)
        if context is not None:
            message["context"] = copy.deepcopy(context)
        message["type"] = msg_type
        if content is not None:
            message[msg_type] = copy.deepcopy(content)
        return self.envelope({"contacts": [user.contact()], "messages": [message]})

    def _reply_context(self, reply_to: str | None) -> dict[str, Any]:
        return {"from": self.display_phone_number, "id": reply_to or new_wamid()}

    # ------------------------------------------------------------------ incoming messages

    def text(
        self,
        body: str,
        *,
        sender: Sender | None = None,
        message_id: str | None = None,
        timestamp: Timestamp = None,
        reply_to: str | None = None,
    ) -> dict[str, Any]:
        """A text message (``reply_to``: the wamid it quotes, if any)."""
        context = self._reply_context(reply_to) if reply_to else None
        return self.message(
            "text",
            {"body": body},
            sender=sender,
            message_id=message_id,
            timestamp=timestamp,
            context=context,
        )

    def image(
        self,
        media_id: str,
        *,
        caption: str | None = None,
        mime_type: str = "image/jpeg",
        content: bytes | None = None,
        url: str | None = None,
        sender: Sender | None = None,
        message_id: str | None = None,
        timestamp: Timestamp = None,
    ) -> dict[str, Any]:
        """A photo (``content`` only feeds ``sha256``; ``url``: the newer payloads' direct URL)."""
        image: dict[str, Any] = {}
        if caption is not None:
            image["caption"] = caption
        image |= {"mime_type": mime_type, "sha256": _b64_sha256(content), "id": media_id}
        if url is not None:
            image["url"] = url
        return self.message(
            "image", image, sender=sender, message_id=message_id, timestamp=timestamp
        )

    def document(
        self,
        media_id: str,
        filename: str,
        mime_type: str = "application/pdf",
        *,
        caption: str | None = None,
        content: bytes | None = None,
        url: str | None = None,
        sender: Sender | None = None,
        message_id: str | None = None,
        timestamp: Timestamp = None,
    ) -> dict[str, Any]:
        """A file sent as a document (a photo sent "as document" has an ``image/*`` type)."""
        document: dict[str, Any] = {}
        if caption is not None:
            document["caption"] = caption
        document |= {
            "filename": filename,
            "mime_type": mime_type,
            "sha256": _b64_sha256(content),
            "id": media_id,
        }
        if url is not None:
            document["url"] = url
        return self.message(
            "document", document, sender=sender, message_id=message_id, timestamp=timestamp
        )

    def sticker(
        self,
        media_id: str,
        *,
        animated: bool = False,
        content: bytes | None = None,
        sender: Sender | None = None,
        message_id: str | None = None,
        timestamp: Timestamp = None,
    ) -> dict[str, Any]:
        """A sticker (``image/webp``)."""
        sticker = {
            "mime_type": "image/webp",
            "sha256": _b64_sha256(content),
            "id": media_id,
            "animated": animated,
        }
        return self.message(
            "sticker", sticker, sender=sender, message_id=message_id, timestamp=timestamp
        )

    def button_reply(
        self,
        button_id: str,
        title: str,
        *,
        reply_to: str | None = None,
        sender: Sender | None = None,
        message_id: str | None = None,
        timestamp: Timestamp = None,
    ) -> dict[str, Any]:
        """A tap on a reply button of the bot's interactive message ``reply_to``."""
        return self.message(
            "interactive",
            {"type": "button_reply", "button_reply": {"id": button_id, "title": title}},
            sender=sender,
            message_id=message_id,
            timestamp=timestamp,
            context=self._reply_context(reply_to),
        )

    def list_reply(
        self,
        row_id: str,
        title: str,
        *,
        description: str | None = None,
        reply_to: str | None = None,
        sender: Sender | None = None,
        message_id: str | None = None,
        timestamp: Timestamp = None,
    ) -> dict[str, Any]:
        """A row chosen in the bot's interactive list message ``reply_to``."""
        row: dict[str, Any] = {"id": row_id, "title": title}
        if description is not None:
            row["description"] = description
        return self.message(
            "interactive",
            {"type": "list_reply", "list_reply": row},
            sender=sender,
            message_id=message_id,
            timestamp=timestamp,
            context=self._reply_context(reply_to),
        )

    def template_button(
        self,
        payload: str,
        text: str,
        *,
        reply_to: str | None = None,
        sender: Sender | None = None,
        message_id: str | None = None,
        timestamp: Timestamp = None,
    ) -> dict[str, Any]:
        """A tap on a quick-reply button of a template message (``type: button``)."""
        return self.message(
            "button",
            {"payload": payload, "text": text},
            sender=sender,
            message_id=message_id,
            timestamp=timestamp,
            context=self._reply_context(reply_to),
        )

    def contacts(
        self,
        formatted_name: str = "Budi Santoso",
        phone: str = "+62 812-3456-7890",
        *,
        wa_id: str | None = "6281234567890",
        cards: list[dict[str, Any]] | None = None,
        sender: Sender | None = None,
        message_id: str | None = None,
        timestamp: Timestamp = None,
    ) -> dict[str, Any]:
        """A shared contact card (or several raw ``cards``)."""
        if cards is None:
            first, _, last = formatted_name.partition(" ")
            name: dict[str, Any] = {"formatted_name": formatted_name, "first_name": first}
            if last:
                name["last_name"] = last
            phone_entry: dict[str, Any] = {"phone": phone, "type": "CELL"}
            if wa_id:
                phone_entry["wa_id"] = wa_id
            cards = [{"name": name, "phones": [phone_entry]}]
        return self.message(
            "contacts", cards, sender=sender, message_id=message_id, timestamp=timestamp
        )

    # ------------------------------------------------------------------ statuses

    def status(
        self,
        message_id: str,
        status: str = "delivered",
        *,
        recipient: Sender | None = None,
        error: GraphError | int | dict[str, Any] | None = None,
        include_contacts: bool | None = None,
        by_user_id: bool = False,
        category: str = "service",
        conversation: bool = False,
        tracker: str | None = None,
        timestamp: Timestamp = None,
    ) -> dict[str, Any]:
        """The status of a message the bot sent (``sent``/``delivered``/``read``/``failed``).

        Args:
            message_id: the wamid the send returned.
            status: the new status.
            recipient: who the message was sent to (default: the builder's sender).
            error: for ``failed``: a code (e.g. 131047), a :class:`GraphError` or a raw
                ``errors[]`` entry.
            include_contacts: add ``contacts``; default: yes except for ``failed`` (Meta omits
                them there).
            by_user_id: the message was sent to the user id, not the phone number (a failed
                status names the recipient the way it was addressed).
            category: pricing category (``service``, ``utility``, ``marketing``, …).
            conversation: add the ``conversation`` object of conversation-based pricing
                (per-message pricing payloads, the default, omit it).
            tracker: ``biz_opaque_callback_data`` the message was sent with.
            timestamp: the status time.
        """
        user = recipient or self.sender
        entry: dict[str, Any] = {"id": message_id, "status": status}
        entry["timestamp"] = _timestamp(timestamp)
        failed = status == "failed"
        if user.wa_id and not (failed and by_user_id):
            entry["recipient_id"] = user.wa_id
        if not failed or by_user_id or not user.wa_id:
            entry["recipient_user_id"] = user.user_id
        if user.parent_user_id:
            entry["recipient_parent_user_id"] = user.parent_user_id
        if tracker is not None:
            entry["biz_opaque_callback_data"] = tracker
        if failed:
            if error is None:
                error = 131000
            if isinstance(error, int):
                error = GraphError.from_code(error)
            entry["errors"] = [error.webhook_error() if isinstance(error, GraphError) else error]
        else:
            billable = category != "service"
            if conversation:
                origin: dict[str, Any] = {
                    "id": hashlib.md5(user.user_id.encode(), usedforsecurity=False).hexdigest(),
                    "origin": {"type": category},
                }
                if status == "sent":
                    origin["expiration_timestamp"] = str(int(entry["timestamp"]) + 86_400)
                entry["conversation"] = origin
            entry["pricing"] = {
                "billable": billable,
                "pricing_model": "PMP",
                "category": category,
                "type": "regular" if billable else "free_customer_service",
            }
        value: dict[str, Any] = {"statuses": [entry]}
        if include_contacts if include_contacts is not None else not failed:
            contact = user.contact()
            if status == "sent":  # Meta sends no username in "sent" statuses
                contact["profile"].pop("username", None)
            value = {"contacts": [contact], **value}
        return self.envelope(value)


# --------------------------------------------------------------------------- module helpers


def message_id_of(payload: dict[str, Any]) -> str:
    """The wamid of the (first) message or status in a payload."""
    value = payload["entry"][0]["changes"][0]["value"]
    items = value.get("messages") or value.get("statuses")
    return str(items[0]["id"])


def batch(*payloads: dict[str, Any]) -> dict[str, Any]:
    """One webhook carrying several payloads' entries (Meta may batch updates; pywa only looks
    at ``entry[0].changes[0]`` and its first message/status)."""
    return {
        "object": "whatsapp_business_account",
        "entry": [copy.deepcopy(e) for payload in payloads for e in payload["entry"]],
    }


def encode(payload: dict[str, Any]) -> bytes:
    """Serialize like Meta: compact JSON, non-ASCII as ``\\uXXXX`` and ``/`` as ``\\/``.

    So a webhook endpoint that verifies the signature over re-serialized JSON instead of the
    raw body fails, as it would in production.
    """
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
    return text.replace("/", "\\/").encode("ascii")


def sign(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` value: ``sha256=`` + hex HMAC-SHA256 of the raw body."""
    digest = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signed_request(payload: dict[str, Any], app_secret: str) -> tuple[bytes, dict[str, str]]:
    """Raw body and headers of the POST Meta would make for ``payload``."""
    body = encode(payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "facebookexternalua",
        SIGNATURE_HEADER: sign(body, app_secret),
    }
    return body, headers


def verification_query(verify_token: str, challenge: str = "1158201444") -> dict[str, str]:
    """Query parameters of Meta's webhook verification ``GET``."""
    return {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": verify_token}
