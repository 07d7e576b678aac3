"""A fake Telegram Bot API server that speaks the real HTTP protocol.

The real python-telegram-bot ``Bot``/``Application`` can be pointed at it::

    async with FakeBotApi() as fake:
        app = (
            ApplicationBuilder()
            .token(fake.token)
            .base_url(fake.base_url)
            .base_file_url(fake.base_file_url)
            .build()
        )
        ...
        fake.push_text(42, "/start")
        [reply] = await fake.wait_for_messages(42, 1)

The server is a Starlette app served by uvicorn on ``127.0.0.1`` (random free port) inside the
running asyncio event loop, so it needs no threads and no network access.

How python-telegram-bot talks to the Bot API (and therefore what this fake parses):

* Every method is a ``POST {base_url}{token}/{method}``.  Without uploads the body is
  ``application/x-www-form-urlencoded``; with uploads it is ``multipart/form-data`` where the
  files are parts named after the parameter (e.g. ``photo``) or ``attach://…`` names.
* Every value is a *string*: ``str`` values are sent verbatim (``text=hello``), everything else is
  ``json.dumps``-ed (``chat_id=42``, ``disable_notification=true``,
  ``reply_markup={"inline_keyboard": …}``, ``timeout=1`` from a ``timedelta``).  ``None`` values
  are dropped.  The fake therefore JSON-decodes every value except known free-text fields
  (``text``, ``caption``, ``file_id``, …) so ``calls`` hold ``int``/``bool``/``dict`` values.
* ``Bot.get_file`` prefixes the returned relative ``file_path`` with ``{base_file_url}{token}/``;
  downloads are a plain ``GET`` of that URL.

Only a subset of the API is implemented (see ``FakeBotApi._handlers``); other methods answer
``404 Not Found: method not found`` like the real server does for unknown methods.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import copy
import html
import itertools
import json
import re
import secrets
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.loopback import LoopbackServer, Signal

__all__ = ["DEFAULT_JPEG", "FakeBotApi", "SentMessage", "UploadedFile"]

#: A valid 16x16 baseline JPEG (543 bytes), used as the default photo content.
DEFAULT_JPEG: bytes = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsO"
    "CwkJDRENDg8QEBEQCgwSExIQEw8QEBD/2wBDAQMDAwQDBAgEBAgQCwkLEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ"
    "EBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBD/wAARCAAQABADASIAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAA"
    "BwQF/8QAJBAAAQQBBAICAwAAAAAAAAAAAQIDBAYFBwgSExEiABQJMTL/xAAVAQEBAAAAAAAAAAAAAAAAAAAABv/E"
    "ACMRAAECBQMFAAAAAAAAAAAAAAECEQMEBQYhABIxFRZhgeH/2gAMAwEAAhEDEQA/ABSm0mobc8HmExLUlRzzEWPk"
    "JWW+ulrsaUVAseUgslSlH9LKuPryIKuWPZdskzXmm3fX5m2nF4GlVxx/HOpx4ks51+MiU/Iaad7UcUo4tILoS4kq"
    "cWkezS0hO/HvuRp0rO6hWnWO1UisZVuFi4GFeyEpmGepa5S5SWVPuciFKRFLgSrwetnyPIB+Vb4N9mKhQMzo5po9"
    "XLdDs9d6ZVix2VEhiL9kuNPxw2gEKcDQ/rs8AuA8VAe0vdl7VOYn+27flGAUgmITjbhSmCg3BYlyeWDkMolvw4KO"
    "p1KM6iCNvngZHwetf//Z"
)

MAX_MESSAGE_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_UPDATES_LIMIT = 100
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024
#: Quiet period used by :meth:`FakeBotApi.wait_until_idle`.
IDLE_QUIET_PERIOD = 0.2

_ERR_CHAT_NOT_FOUND = "Bad Request: chat not found"
_ERR_TEXT_EMPTY = "Bad Request: message text is empty"
_ERR_TOO_LONG = "Bad Request: message is too long"
_ERR_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a content and reply markup of the current message"
)
_ERR_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)

# Parameters whose (string) values must never be JSON-decoded: python-telegram-bot sends str
# values verbatim, so e.g. ``text=123`` or ``text=[1]`` must stay strings.
_STRING_FIELDS = frozenset(
    {
        "action",
        "address",
        "animation",
        "audio",
        "business_connection_id",
        "callback_query_id",
        "caption",
        "data",
        "description",
        "document",
        "emoji",
        "explanation",
        "file_id",
        "first_name",
        "foursquare_id",
        "inline_message_id",
        "language_code",
        "last_name",
        "message_text",
        "name",
        "parse_mode",
        "payload",
        "phone_number",
        "photo",
        "query",
        "question",
        "secret_token",
        "short_description",
        "sticker",
        "text",
        "thumbnail",
        "title",
        "url",
        "vcard",
        "video",
        "video_note",
        "voice",
    }
)

_INLINE_BUTTON_ACTIONS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)

_BOT_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{1,64})?(?![A-Za-z0-9_@])")
_HTML_TAG_RE = re.compile(r"<[^>]*>")


# --------------------------------------------------------------------------- public data types


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a ``multipart/form-data`` request (as found in ``FakeBotApi.calls``)."""

    filename: str | None
    content_type: str | None
    content: bytes = field(repr=False)


@dataclass
class SentMessage:
    """Something the bot sent or edited (``sendMessage``, ``sendPhoto``, ``sendDocument``,
    ``editMessageText``).

    ``text`` is the message text, or the caption (``""`` if none) for media.  ``reply_markup`` is
    the decoded markup exactly as the bot sent it (inline *or* reply keyboard), ``None`` if absent.
    """

    chat_id: int
    text: str
    reply_markup: dict[str, Any] | None
    method: str
    message_id: int
    params: dict[str, Any] = field(default_factory=dict, repr=False)
    file_content: bytes | None = field(default=None, repr=False)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """All buttons of the inline keyboard (or reply keyboard), flattened row by row."""
        markup = self.reply_markup or {}
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        return [
            button if isinstance(button, dict) else {"text": button}
            for row in rows
            for button in row
        ]

    @property
    def callback_data(self) -> list[str]:
        """``callback_data`` of every inline button, in keyboard order."""
        return [b["callback_data"] for b in self.buttons if "callback_data" in b]


# --------------------------------------------------------------------------- internals


class _ApiError(Exception):
    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


@dataclass
class _QueuedUpdate:
    update_id: int
    payload: dict[str, Any]
    delivered: bool = False


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    content: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None


def text_update(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    """A Telegram update as a webhook POST carries it: a private text message from `user_id`."""
    user = {"id": user_id, "is_bot": False, "first_name": "Siti", "language_code": "id"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1700000000,
            "chat": {"id": user_id, "type": "private", "first_name": "Siti"},
            "from": user,
            "text": text,
        },
    }


def _chat_of(params: dict[str, Any]) -> int | None:
    """The chat a request addresses, when it names one."""
    try:
        return int(params.get("chat_id"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _decode_value(key: str, value: Any) -> Any:
    """Decode one request value the way the Bot API interprets form fields."""
    if not isinstance(value, str) or key in _STRING_FIELDS:
        return value
    try:
        decoded = json.loads(value, parse_constant=_reject_constant)
    except ValueError:
        return value
    if decoded is None or isinstance(decoded, str):
        return value
    return decoded


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _unescape_form_param(value: str) -> str:
    value = re.sub(r"%([01][0-9A-F]|22)", lambda m: chr(int(m.group(1), 16)), value)
    return value.replace("\\\\", "\\")


def _disposition_param(disposition: str, name: str) -> str | None:
    match = re.search(rf'(?:^|;)\s*{name}="((?:[^"\\]|\\.)*)"', disposition)
    if match:
        return _unescape_form_param(match.group(1))
    match = re.search(rf"(?:^|;)\s*{name}=([^;\s]+)", disposition)
    return match.group(1) if match else None


def _parse_multipart(body: bytes, content_type: str) -> list[tuple[str, str | UploadedFile]]:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise _ApiError(400, "Bad Request: can't parse multipart/form-data: no boundary")
    delimiter = b"--" + match.group(1).encode("latin-1")
    fields: list[tuple[str, str | UploadedFile]] = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            continue
        data = data.removesuffix(b"\r\n")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, val = line.partition(":")
            headers[key.strip().lower()] = val.strip()
        disposition = headers.get("content-disposition", "")
        name = _disposition_param(disposition, "name")
        if name is None:
            continue
        filename = _disposition_param(disposition, "filename")
        if filename is not None or "content-type" in headers:
            fields.append((name, UploadedFile(filename, headers.get("content-type"), data)))
        else:
            fields.append((name, data.decode("utf-8", "replace")))
    return fields


async def _read_params(request: Request) -> dict[str, Any]:
    """Parse query string + form/multipart/JSON body into a dict of decoded values."""
    params: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    mime = content_type.split(";", 1)[0].strip().lower()
    body = await request.body()
    if mime == "application/json":
        if body:
            try:
                data = json.loads(body)
            except ValueError:
                raise _ApiError(400, "Bad Request: can't parse JSON object") from None
            if not isinstance(data, dict):
                raise _ApiError(400, "Bad Request: can't parse JSON object")
            params.update(data)
    elif mime == "multipart/form-data":
        params.update(_parse_multipart(body, content_type))
    elif body:
        text = body.decode("utf-8", "replace")
        params.update(urllib.parse.parse_qsl(text, keep_blank_values=True))
    return {key: _decode_value(key, value) for key, value in params.items()}


def _visible_length(text: str, parse_mode: Any) -> int:
    if isinstance(parse_mode, str) and parse_mode.upper() == "HTML":
        text = html.unescape(_HTML_TAG_RE.sub("", text))
    return len(text)


def _jpeg_size(content: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's SOF marker, or ``None``."""
    if not content.startswith(b"\xff\xd8"):
        return None
    pos = 2
    while pos + 9 < len(content):
        if content[pos] != 0xFF:
            return None
        marker = content[pos + 1]
        length = int.from_bytes(content[pos + 2 : pos + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            height = int.from_bytes(content[pos + 5 : pos + 7], "big")
            width = int.from_bytes(content[pos + 7 : pos + 9], "big")
            return width, height
        pos += 2 + length
    return None


_Handler = Callable[[dict[str, Any]], Awaitable[Any]]


# --------------------------------------------------------------------------- the fake


class FakeBotApi:
    """In-process fake of ``https://api.telegram.org`` for one bot (polling mode).

    Simulate users with the ``push_*`` methods (each queues one update for ``getUpdates`` and
    returns its ``update_id``), then observe the bot through :attr:`sent`, :attr:`calls`,
    :meth:`wait_for_messages` and :meth:`wait_until_idle`.  Private chats only: a user's chat id
    equals their user id, and only chats of users that were pushed (i.e. "wrote to the bot")
    exist.
    """

    def __init__(
        self,
        token: str = "123456:TEST",
        bot_id: int = 123456,
        username: str = "mitra_test_bot",
        *,
        max_poll_wait: float = 0.5,
    ) -> None:
        """Create the fake (not started yet; use ``start()`` or ``async with``).

        Args:
            token: the only accepted bot token (others get ``401 Unauthorized``).
            bot_id: ``id`` of the bot user returned by ``getMe`` and used as ``from``.
            username: the bot's username.
            max_poll_wait: cap (seconds) on ``getUpdates`` long polling, to keep tests fast.
        """
        self.token = token
        self.bot_id = bot_id
        self.username = username
        self.max_poll_wait = max_poll_wait
        self.bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Mitra Test Bot",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

        #: Every sendMessage/sendPhoto/sendDocument/editMessageText, in order.
        self.sent: list[SentMessage] = []
        self.webhook: dict[str, Any] | None = None
        """What setWebhook was last given (url, secret_token, allowed_updates), or None."""
        #: Every authorised ``(method, params)`` received (including getUpdates and failures).
        self.calls: list[tuple[str, dict[str, Any]]] = []
        #: Exceptions raised inside the fake while handling a request (answered with HTTP 500).
        self.internal_errors: list[BaseException] = []
        #: Commands stored by setMyCommands.
        self.commands: list[dict[str, Any]] = []
        #: user id -> User object (users that "wrote" to the bot).
        self.users: dict[int, dict[str, Any]] = {}
        self.blocked_users: set[int] = set()

        self.base_url = ""
        self.base_file_url = ""
        self.port: int | None = None

        self._pending: list[_QueuedUpdate] = []
        self._next_update_id = 100_000_001
        self._file_ids = itertools.count(1)
        self._message_ids: dict[int, int] = {}
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._last_bot_message: dict[int, int] = {}
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._callback_ids: set[str] = set()
        self._injected: dict[str, list[_ApiError]] = {}
        self._rate: float | None = None
        self._rate_retry_after = 1
        self._recent_sends: collections.deque[float] = collections.deque()
        #: How many sends were answered 429 by :meth:`enforce_rate`.
        self.rate_limited = 0
        #: Seconds every non-polling request waits before it is answered (a slow network).
        self.response_delay = 0.0
        self.flooded_chats: dict[int, int] = {}
        """The next send to one of these chats is answered 429 with this retry_after (a flood
        of that one chat; Telegram's answer does not say so)."""
        self._count_refused = True
        self.held_chats: dict[int, asyncio.Event] = {}
        """A method addressed to one of these chats is answered only once its event is set (a
        slow answer that the test releases when it has seen what happened meanwhile)."""

        self._signal = Signal()
        self._inflight = 0
        self._last_activity = time.monotonic()
        self._poll_generation = 0
        self._closing = False
        self._loopback: LoopbackServer = LoopbackServer(Starlette(), "FakeBotApi")

        self._handlers: dict[str, _Handler] = {
            name.lower(): handler
            for name, handler in {
                "getMe": self._get_me,
                "deleteWebhook": self._delete_webhook,
                "setWebhook": self._set_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "logOut": self._return_true,
                "close": self._return_true,
                "getUpdates": self._get_updates,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "answerCallbackQuery": self._answer_callback_query,
                "sendChatAction": self._send_chat_action,
                "getFile": self._get_file,
                "sendPhoto": self._send_photo,
                "sendDocument": self._send_document,
            }.items()
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind 127.0.0.1 on a free port and serve in the current event loop (≤ 5 s)."""
        if self._loopback.running:
            raise RuntimeError("FakeBotApi already started")
        app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._handle_api, methods=["GET", "POST"]),
                Route("/file/bot{token}/{file_path:path}", self._handle_file, methods=["GET"]),
                Route("/{rest:path}", self._handle_not_found, methods=["GET", "POST"]),
            ]
        )
        self._closing = False
        self._loopback = LoopbackServer(app, "FakeBotApi")
        self.port = await self._loopback.start()
        root = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{root}/bot"
        self.base_file_url = f"{root}/file/bot"

    async def stop(self) -> None:
        """Stop serving (pending long polls return immediately); bounded to a few seconds."""
        if not self._loopback.running:
            return
        self._closing = True
        self._signal.notify()
        await self._loopback.stop()

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ simulating users

    def push_text(
        self, user_id: int, text: str, *, first_name: str = "Tester", language_code: str = "id"
    ) -> int:
        """User ``user_id`` sends ``text`` in their private chat.

        Texts starting with a ``/command`` get the ``bot_command`` entity real clients produce
        (``CommandHandler`` relies on it).
        """
        self._register_user(user_id, first_name=first_name, language_code=language_code)
        content: dict[str, Any] = {"text": text}
        match = _BOT_COMMAND_RE.match(text)
        if match:
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": match.end()}]
        return self._push_message(user_id, content)

    def push_callback(self, user_id: int, data: str, *, message_id: int | None = None) -> int:
        """User presses an inline button carrying ``data`` on one of the bot's messages.

        ``message_id`` defaults to the last message the bot sent to that chat; the
        ``callback_query.message`` is that message in its current (possibly edited) state.
        """
        user = self._register_user(user_id)
        if message_id is None:
            message_id = self._last_bot_message.get(user_id)
            if message_id is None:
                raise LookupError(f"the bot has not sent any message to chat {user_id} yet")
        message = self._messages.get((user_id, message_id))
        if message is None:
            raise LookupError(f"no bot message {message_id} in chat {user_id}")
        query_id = str(secrets.randbits(62))
        self._callback_ids.add(query_id)
        return self._enqueue(
            {
                "callback_query": {
                    "id": query_id,
                    "from": dict(user),
                    "message": copy.deepcopy(message),
                    "chat_instance": str((user_id * 2_654_435_761 + self.bot_id) % 10**19),
                    "data": data,
                }
            }
        )

    def push_photo(
        self,
        user_id: int,
        content: bytes = DEFAULT_JPEG,
        *,
        caption: str | None = None,
        media_group_id: str | None = None,
    ) -> int:
        """User sends a photo; ``getFile`` + download of any of its sizes yields ``content``."""
        self._register_user(user_id)
        width, height = _jpeg_size(content) or (800, 600)
        stored = self._store_file(content, "photos", ".jpg", prefix="AgACAgUAAxkBAAI")
        thumb = self._store_file(content, "photos", ".jpg", prefix="AgACAgUAAxkBAAI")
        scale = min(1.0, 90 / max(width, height))
        message: dict[str, Any] = {
            "photo": [
                {
                    "file_id": thumb.file_id,
                    "file_unique_id": thumb.file_unique_id,
                    "file_size": len(content),
                    "width": max(1, round(width * scale)),
                    "height": max(1, round(height * scale)),
                },
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": len(content),
                    "width": width,
                    "height": height,
                },
            ]
        }
        if caption is not None:
            message["caption"] = caption
        if media_group_id is not None:
            message["media_group_id"] = str(media_group_id)
        return self._push_message(user_id, message)

    def push_document(
        self,
        user_id: int,
        content: bytes,
        file_name: str,
        mime_type: str,
        *,
        caption: str | None = None,
    ) -> int:
        """User sends a file as a document; ``getFile`` + download yields ``content``."""
        self._register_user(user_id)
        suffix = "." + file_name.rsplit(".", 1)[-1] if "." in file_name else ""
        stored = self._store_file(
            content,
            "documents",
            suffix,
            prefix="BQACAgUAAxkBAAI",
            file_name=file_name,
            mime_type=mime_type,
        )
        message: dict[str, Any] = {
            "document": {
                "file_name": file_name,
                "mime_type": mime_type,
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": len(content),
            }
        }
        if caption is not None:
            message["caption"] = caption
        return self._push_message(user_id, message)

    def push_sticker(self, user_id: int) -> int:
        """User sends a (static, regular) sticker."""
        self._register_user(user_id)
        content = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"  # noqa: E501
        stored = self._store_file(content, "stickers", ".webp", prefix="CAACAgIAAxkBAAI")
        return self._push_message(
            user_id,
            {
                "sticker": {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                    "emoji": "\N{THUMBS UP SIGN}",
                    "set_name": "FakeStickers",
                    "file_size": len(content),
                }
            },
        )

    def push_contact(self, user_id: int, phone_number: str) -> int:
        """User shares their own contact (as with a ``request_contact`` keyboard button)."""
        user = self._register_user(user_id)
        return self._push_message(
            user_id,
            {
                "contact": {
                    "phone_number": phone_number,
                    "first_name": user["first_name"],
                    "user_id": user_id,
                }
            },
        )

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update dict; returns its ``update_id`` (assigned if missing).

        An update whose ``update_id`` was already confirmed is still delivered once, which lets
        tests re-deliver a duplicate (as Telegram may do after a crash/timeout).
        """
        update = copy.deepcopy(update)
        for key in ("message", "edited_message", "callback_query"):
            obj = update.get(key)
            if not isinstance(obj, dict):
                continue
            sender = obj.get("from")
            if isinstance(sender, dict) and isinstance(sender.get("id"), int):
                self.users.setdefault(sender["id"], sender)
            chat = obj.get("chat") or (obj.get("message") or {}).get("chat")
            if isinstance(chat, dict) and isinstance(chat.get("id"), int):
                self.users.setdefault(
                    chat["id"],
                    {"id": chat["id"], "is_bot": False, "first_name": chat.get("first_name", "")},
                )
        return self._enqueue(update)

    def add_user(self, user_id: int, first_name: str = "Tester") -> None:
        """Make a chat known (as if the user had pressed Start) without queuing an update."""
        self._register_user(user_id, first_name=first_name)

    def enforce_rate(
        self, per_second: float, retry_after: int = 1, *, count_refused: bool = True
    ) -> None:
        """Answer sends beyond `per_second` in any 1-second window with 429 and retry_after,
        like Telegram's flood control; without `count_refused`, a send to a blocked chat (no
        message delivered) is not counted."""
        self._rate = per_second
        self._rate_retry_after = retry_after
        self._count_refused = count_refused

    def block_user(self, user_id: int) -> None:
        """Make sends to ``user_id`` fail with ``403 Forbidden: bot was blocked by the user``."""
        self.blocked_users.add(user_id)

    def inject_error(
        self,
        method: str,
        error_code: int,
        description: str,
        *,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (e.g. 429 with ``retry_after``)."""
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        queue = self._injected.setdefault(method.lower(), [])
        queue.extend(_ApiError(error_code, description, parameters) for _ in range(times))

    # ------------------------------------------------------------------ observing the bot

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        """Everything recorded in :attr:`sent` for ``chat_id``, in order."""
        return [m for m in self.sent if m.chat_id == chat_id]

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int,
        timeout: float = 30.0,  # noqa: ASYNC109 - part of the documented helper API
    ) -> list[SentMessage]:
        """Wait until at least ``count`` messages were sent to ``chat_id`` (in total, counting
        earlier ones); return all of them.  Raises ``TimeoutError`` listing what arrived."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            messages = self.messages_to(chat_id)
            if len(messages) >= count:
                return messages
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"expected {count} message(s) to chat {chat_id} within {timeout}s, got "
                    f"{len(messages)}: {[(m.method, m.text) for m in messages]!r}; "
                    f"internal errors: {self.internal_errors!r}"
                )
            await self._signal.wait(remaining)

    async def wait_until_idle(
        self,
        timeout: float = 30.0,  # noqa: ASYNC109 - part of the documented helper API
        *,
        requests_only: bool = False,
    ) -> None:
        """Wait until every queued update was fetched *and* confirmed (a later ``getUpdates``
        used a higher offset) and no non-polling request was in flight for 0.2 s.

        With ``requests_only``, wait for the requests alone: after the polling process was
        killed, nothing will fetch or confirm the updates it left until another one starts."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if (requests_only or not self._pending) and self._inflight == 0:
                quiet_left = IDLE_QUIET_PERIOD - (time.monotonic() - self._last_activity)
                if quiet_left <= 0:
                    return
                wait = min(quiet_left, remaining)
            else:
                wait = remaining
            if remaining <= 0:
                raise TimeoutError(
                    f"fake Telegram API not idle after {timeout}s: "
                    f"{len(self._pending)} unconfirmed update(s) "
                    f"{[u.update_id for u in self._pending]}, {self._inflight} request(s) in flight"
                )
            await self._signal.wait(wait)

    # ------------------------------------------------------------------ HTTP layer

    async def _handle_api(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return self._error(401, "Unauthorized")
        method = request.path_params["method"]
        try:
            params = await _read_params(request)
        except _ApiError as exc:
            return self._error(exc.code, exc.description)
        self.calls.append((method, params))
        key = method.lower()
        handler = self._handlers.get(key)
        if handler is None:
            return self._error(404, "Not Found: method not found")
        polling = key == "getupdates"
        if not polling:
            self._inflight += 1
            self._touch()
        try:
            if not polling and self.response_delay:
                await asyncio.sleep(self.response_delay)
            held = self.held_chats.get(_chat_of(params))
            if not polling and held is not None:
                await held.wait()
            injected = self._injected.get(key)
            if injected:
                raise injected.pop(0)
            chat = _chat_of(params)
            if key.startswith("send") and chat in self.flooded_chats:
                retry_after = self.flooded_chats.pop(chat)
                raise _ApiError(
                    429,
                    f"Too Many Requests: retry after {retry_after}",
                    {"retry_after": retry_after},
                )
            refused = chat in self.blocked_users and not self._count_refused
            if self._rate is not None and key.startswith("send") and not refused:
                self._check_rate()
            result = await handler(params)
        except _ApiError as exc:
            return self._error(exc.code, exc.description, exc.parameters)
        except Exception as exc:
            self.internal_errors.append(exc)
            return self._error(500, f"Internal Server Error: {exc!r}")
        finally:
            if not polling:
                self._inflight -= 1
                self._touch()
        return JSONResponse({"ok": True, "result": result})

    def _check_rate(self) -> None:
        now = time.monotonic()
        while self._recent_sends and self._recent_sends[0] <= now - 1.0:
            self._recent_sends.popleft()
        if self._rate is not None and len(self._recent_sends) >= self._rate:
            self.rate_limited += 1
            raise _ApiError(
                429,
                f"Too Many Requests: retry after {self._rate_retry_after}",
                {"retry_after": self._rate_retry_after},
            )
        self._recent_sends.append(now)

    async def _handle_file(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return self._error(401, "Unauthorized")
        stored = self._files_by_path.get(request.path_params["file_path"])
        if stored is None:
            return self._error(404, "Not Found")
        return Response(stored.content, media_type=stored.mime_type or "application/octet-stream")

    async def _handle_not_found(self, request: Request) -> Response:
        return self._error(404, "Not Found")

    @staticmethod
    def _error(code: int, description: str, parameters: dict[str, Any] | None = None) -> Response:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return JSONResponse(body, status_code=code)

    # ------------------------------------------------------------------ bookkeeping helpers

    def _touch(self) -> None:
        self._last_activity = time.monotonic()
        self._signal.notify()

    def _register_user(
        self, user_id: int, *, first_name: str | None = None, language_code: str | None = None
    ) -> dict[str, Any]:
        user = self.users.setdefault(
            user_id,
            {"id": user_id, "is_bot": False, "first_name": "Tester", "language_code": "id"},
        )
        if first_name is not None:
            user["first_name"] = first_name
        if language_code is not None:
            user["language_code"] = language_code
        return user

    def _chat_object(self, chat_id: int) -> dict[str, Any]:
        user = self.users.get(chat_id, {})
        return {"id": chat_id, "type": "private", "first_name": user.get("first_name", "")}

    def _next_message_id(self, chat_id: int) -> int:
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    def _push_message(self, user_id: int, content: dict[str, Any]) -> int:
        message = {
            "message_id": self._next_message_id(user_id),
            "from": dict(self.users[user_id]),
            "chat": self._chat_object(user_id),
            "date": int(time.time()),
            **content,
        }
        return self._enqueue({"message": message})

    def _enqueue(self, update: dict[str, Any]) -> int:
        update_id = update.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            update_id = self._next_update_id
        self._next_update_id = max(self._next_update_id, update_id + 1)
        payload = {"update_id": update_id, **{k: v for k, v in update.items() if k != "update_id"}}
        self._pending.append(_QueuedUpdate(update_id, payload))
        self._touch()
        return update_id

    def _store_file(
        self,
        content: bytes,
        folder: str,
        suffix: str,
        *,
        prefix: str,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> _StoredFile:
        number = next(self._file_ids)
        stored = _StoredFile(
            file_id=f"{prefix}{number:04d}{secrets.token_urlsafe(24)}",
            file_unique_id=f"AQAD{number:04d}{secrets.token_hex(4)}",
            content=bytes(content),
            file_path=f"{folder}/file_{number}{suffix}",
            file_name=file_name,
            mime_type=mime_type,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _chat_id(self, params: dict[str, Any]) -> int:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _ApiError(400, "Bad Request: chat_id is empty")
        if isinstance(chat_id, bool) or not isinstance(chat_id, int):
            raise _ApiError(400, _ERR_CHAT_NOT_FOUND)
        if chat_id not in self.users:
            raise _ApiError(400, _ERR_CHAT_NOT_FOUND)
        if chat_id in self.blocked_users:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    @staticmethod
    def _int_param(params: dict[str, Any], name: str) -> int:
        value = params.get(name)
        if value is None or value == "":
            raise _ApiError(400, f"Bad Request: {name} is empty")
        if isinstance(value, bool) or not isinstance(value, int):
            raise _ApiError(400, f"Bad Request: invalid {name} specified")
        return value

    @staticmethod
    def _text_param(params: dict[str, Any], name: str = "text") -> str:
        text = params.get(name)
        text = "" if text is None else str(text)
        if not text.strip():
            raise _ApiError(400, _ERR_TEXT_EMPTY)
        if _visible_length(text, params.get("parse_mode")) > MAX_MESSAGE_LENGTH:
            raise _ApiError(400, _ERR_TOO_LONG)
        return text

    @staticmethod
    def _caption_param(params: dict[str, Any]) -> str | None:
        caption = params.get("caption")
        if caption is None:
            return None
        caption = str(caption)
        if _visible_length(caption, params.get("parse_mode")) > MAX_CAPTION_LENGTH:
            raise _ApiError(400, "Bad Request: message caption is too long")
        return caption

    @staticmethod
    def _markup_param(params: dict[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if markup is None or markup == "":
            return None
        if not isinstance(markup, dict):
            raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _ApiError(
                    400,
                    'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup '
                    "must be an Array of Arrays",
                )
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or "text" not in button:
                        raise _ApiError(400, "Bad Request: can't parse inline keyboard button")
                    if not _INLINE_BUTTON_ACTIONS & button.keys():
                        raise _ApiError(
                            400,
                            "Bad Request: can't parse inline keyboard button: "
                            "Text buttons are unallowed in the inline keyboard",
                        )
                    if "callback_data" in button:
                        data = str(button["callback_data"]).encode("utf-8")
                        if not 1 <= len(data) <= MAX_CALLBACK_DATA_BYTES:
                            raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    def _new_bot_message(
        self, chat_id: int, content: dict[str, Any], markup: dict[str, Any] | None
    ) -> dict[str, Any]:
        message_id = self._next_message_id(chat_id)
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": dict(self.bot_user),
            "chat": self._chat_object(chat_id),
            "date": int(time.time()),
            **content,
        }
        # Like Telegram, only inline keyboards are echoed back as Message.reply_markup.
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        self._messages[(chat_id, message_id)] = message
        self._last_bot_message[chat_id] = message_id
        return message

    def _record(
        self,
        method: str,
        chat_id: int,
        text: str,
        markup: dict[str, Any] | None,
        message_id: int,
        params: dict[str, Any],
        file_content: bytes | None = None,
    ) -> None:
        self.sent.append(
            SentMessage(chat_id, text, markup, method, message_id, params, file_content)
        )
        self._touch()

    def _bot_message(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if params.get("inline_message_id"):
            raise _ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat_id = self._chat_id(params)
        message_id = self._int_param(params, "message_id")
        message = self._messages.get((chat_id, message_id))
        if message is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        return chat_id, message

    def _resolve_upload(
        self, params: dict[str, Any], name: str, folder: str, prefix: str
    ) -> _StoredFile:
        value = params.get(name)
        if isinstance(value, UploadedFile):
            filename = value.filename or name
            suffix = "." + filename.rsplit(".", 1)[-1] if "." in filename else ""
            return self._store_file(
                value.content,
                folder,
                suffix,
                prefix=prefix,
                file_name=value.filename,
                mime_type=value.content_type,
            )
        if isinstance(value, str) and value in self._files:
            return self._files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return self._store_file(b"", folder, "", prefix=prefix)
        if value is None or value == "":
            raise _ApiError(400, f"Bad Request: there is no {name} in the request")
        raise _ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    # ------------------------------------------------------------------ Bot API methods

    async def _return_true(self, params: dict[str, Any]) -> bool:
        return True

    async def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return dict(self.bot_user)

    async def _delete_webhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates") is True:
            self._pending.clear()
            self._touch()
        self.webhook = None
        return True

    async def _set_webhook(self, params: dict[str, Any]) -> bool:
        """Record the webhook (url, secret_token, allowed_updates) the bot asked for."""
        url = params.get("url")
        if not isinstance(url, str) or not url.startswith("https://"):
            raise _ApiError(400, "Bad Request: bad webhook: HTTPS url must be provided for webhook")
        self.webhook = dict(params)
        return True

    async def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    async def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _ApiError(400, "Bad Request: can't parse commands JSON object")
        self.commands = commands
        return True

    async def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return list(self.commands)

    async def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        self.commands = []
        return True

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = params.get("offset")
        offset = offset if isinstance(offset, int) and not isinstance(offset, bool) else 0
        limit = params.get("limit", MAX_UPDATES_LIMIT)
        limit = limit if isinstance(limit, int) else MAX_UPDATES_LIMIT
        limit = max(1, min(limit, MAX_UPDATES_LIMIT))
        timeout = params.get("timeout", 0)
        timeout = float(timeout) if isinstance(timeout, int | float) else 0.0

        # A newer getUpdates terminates an older, still waiting one (409), like Telegram does.
        self._poll_generation += 1
        generation = self._poll_generation
        self._confirm(offset)
        self._signal.notify()

        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, min(timeout, self.max_poll_wait))
        while True:
            if generation != self._poll_generation:
                raise _ApiError(409, _ERR_CONFLICT)
            batch = sorted(
                (u for u in self._pending if u.update_id >= offset or not u.delivered),
                key=lambda u: u.update_id,
            )[:limit]
            remaining = deadline - loop.time()
            if batch or self._closing or remaining <= 0:
                break
            await self._signal.wait(remaining)
        for queued in batch:
            queued.delivered = True
        if batch:
            self._touch()
        return [copy.deepcopy(u.payload) for u in batch]

    def _confirm(self, offset: int) -> None:
        before = len(self._pending)
        if offset < 0:
            keep = sorted(self._pending, key=lambda u: u.update_id)[offset:]
            self._pending = keep
        elif offset > 0:
            self._pending = [u for u in self._pending if u.update_id >= offset or not u.delivered]
        if len(self._pending) != before:
            self._touch()

    async def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        text = self._text_param(params)
        markup = self._markup_param(params)
        message = self._new_bot_message(chat_id, {"text": text}, markup)
        self._record("sendMessage", chat_id, text, markup, message["message_id"], params)
        return message

    async def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id, message = self._bot_message(params)
        text = self._text_param(params)
        markup = self._markup_param(params)
        if "text" not in message:
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        self._apply_edit(message, {"text": text}, markup)
        self._record("editMessageText", chat_id, text, markup, message["message_id"], params)
        return message

    async def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        _chat_id, message = self._bot_message(params)
        markup = self._markup_param(params)
        self._apply_edit(message, {}, markup)
        return message

    @staticmethod
    def _apply_edit(
        message: dict[str, Any], changes: dict[str, Any], markup: dict[str, Any] | None
    ) -> None:
        # Omitting reply_markup in an edit removes the inline keyboard, as on Telegram.
        new_markup = markup if markup is not None and "inline_keyboard" in markup else None
        unchanged = all(message.get(k) == v for k, v in changes.items())
        if unchanged and message.get("reply_markup") == new_markup:
            raise _ApiError(400, _ERR_NOT_MODIFIED)
        message.update(changes)
        if new_markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = new_markup
        message["edit_date"] = int(time.time())

    async def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        if str(params.get("callback_query_id", "")) not in self._callback_ids:
            raise _ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        return True

    async def _send_chat_action(self, params: dict[str, Any]) -> bool:
        self._chat_id(params)
        if not params.get("action"):
            raise _ApiError(400, "Bad Request: action is empty")
        return True

    async def _get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._files.get(str(params.get("file_id", "")))
        if stored is None:
            raise _ApiError(400, "Bad Request: invalid file_id")
        result: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
        }
        if len(stored.content) > MAX_DOWNLOAD_SIZE:
            raise _ApiError(400, "Bad Request: file is too big")
        result["file_path"] = stored.file_path
        return result

    async def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        stored = self._resolve_upload(params, "photo", "photos", "AgACAgUAAxkBAAI")
        caption = self._caption_param(params)
        markup = self._markup_param(params)
        width, height = _jpeg_size(stored.content) or (800, 600)
        content: dict[str, Any] = {
            "photo": [
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": len(stored.content),
                    "width": width,
                    "height": height,
                }
            ]
        }
        if caption is not None:
            content["caption"] = caption
        message = self._new_bot_message(chat_id, content, markup)
        self._record(
            "sendPhoto",
            chat_id,
            caption or "",
            markup,
            message["message_id"],
            params,
            stored.content,
        )
        return message

    async def _send_document(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        stored = self._resolve_upload(params, "document", "documents", "BQACAgUAAxkBAAI")
        caption = self._caption_param(params)
        markup = self._markup_param(params)
        document: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
        }
        if stored.file_name:
            document["file_name"] = stored.file_name
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        content: dict[str, Any] = {"document": document}
        if caption is not None:
            content["caption"] = caption
        message = self._new_bot_message(chat_id, content, markup)
        self._record(
            "sendDocument",
            chat_id,
            caption or "",
            markup,
            message["message_id"],
            params,
            stored.content,
        )
        return message
