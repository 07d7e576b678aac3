"""A fake WhatsApp Cloud API (Meta Graph API) server that speaks the real HTTP protocol.

The real ``pywa_async.WhatsApp`` client can be pointed at it::

    async with FakeGraphApi() as fake:
        wa = WhatsApp(phone_id=fake.phone_id, token=fake.token, session=fake.session())
        await wa.send_message(to="6281234567890", text="Halo")
        [sent] = await fake.wait_for_messages(1)

pywa (4.x) has **no base-URL option**: ``GraphAPI.__init__`` overwrites ``session.base_url`` with
``https://graph.facebook.com/v{api_version}`` and every call uses a path relative to it
(``/{phone_id}/messages``, ``/{phone_id}/media``, ``/{media_id}``).  Two ways to reach the fake:

* ``session=fake.session()`` (used above): an ``httpx.AsyncClient`` whose transport
  (:class:`GraphRedirectTransport`) sends every ``graph.facebook.com`` request to this server,
  keeping the path (so pywa's own ``/v{api_version}`` prefix is kept).  Other hosts (the media
  download URLs this fake hands out, which already point at ``127.0.0.1``) pass through.
* Or give pywa your own ``httpx.AsyncClient`` and set ``session.base_url = fake.base_url`` *after*
  constructing ``WhatsApp`` (pywa sets it during construction).

The server is a Starlette app served by uvicorn on ``127.0.0.1`` (random free port) inside the
running asyncio event loop: no threads, no network beyond loopback.

What pywa_async sends (and therefore what this fake parses):

* ``POST /v{ver}/{phone_id}/messages`` with a JSON body ``{"messaging_product": "whatsapp",
  "recipient_type": "individual", "to": <wa_id>, "type": <t>, <t>: {...}}`` (``recipient`` instead
  of ``to`` for a business-scoped user id such as ``ID.1349…``).  Mark-as-read is the same URL
  with ``{"status": "read", "message_id": …}`` (plus ``typing_indicator`` for typing).
* ``POST /v{ver}/{phone_id}/media``: ``multipart/form-data`` with parts ``file`` (filename,
  content type, bytes), ``messaging_product`` and ``type`` (the MIME type).  Sending bytes with
  ``send_image``/``send_document`` uploads first, then sends ``{"id": <media_id>}``.
* ``GET /v{ver}/{media_id}`` for the media URL, then a ``GET`` of that absolute URL with the same
  ``Authorization: Bearer`` header.  pywa treats only all-digit strings as media ids.
* Errors: any HTTP status >= 400 becomes ``pywa.errors.WhatsAppError.from_dict(body["error"])``,
  whose subclass is chosen by ``error["code"]`` (e.g. 131047 -> ``ReEngagementMessage``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import itertools
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.loopback import LoopbackServer, Signal

if TYPE_CHECKING:
    from pywa_async import WhatsApp

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_DISPLAY_PHONE_NUMBER",
    "DEFAULT_PHONE_ID",
    "DEFAULT_TOKEN",
    "DEFAULT_WABA_ID",
    "ERROR_CATALOG",
    "ErrorSpec",
    "FakeGraphApi",
    "GraphError",
    "GraphRedirectTransport",
    "ListRow",
    "ReadReceipt",
    "RecordedCall",
    "RejectedSend",
    "ReplyButton",
    "SentMedia",
    "SentMessage",
    "StoredMedia",
    "TemplateInfo",
    "new_wamid",
]

DEFAULT_API_VERSION = "26.0"
DEFAULT_PHONE_ID = "106540352242922"
DEFAULT_WABA_ID = "102290129340398"
DEFAULT_DISPLAY_PHONE_NUMBER = "6281100000000"
DEFAULT_TOKEN = "EAAG-fake-graph-token"
GRAPH_HOSTS = frozenset({"graph.facebook.com", "graph.facebook.net"})

MAX_TEXT_BODY = 4096
MAX_INTERACTIVE_BODY = 1024
MAX_CAPTION = 1024
MAX_HEADER_TEXT = 60
MAX_FOOTER_TEXT = 60
MAX_REPLY_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_BUTTON_ID = 256
MAX_LIST_ROWS = 10
MAX_LIST_SECTIONS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_ROW_ID = 200
MAX_SECTION_TITLE = 24
MAX_LIST_BUTTON = 20
#: Quiet period used by :meth:`FakeGraphApi.wait_until_idle`.
IDLE_QUIET_PERIOD = 0.2

#: Upload limits per MIME type (bytes), from the Cloud API "supported media types" table.
_MB = 1024 * 1024
_UPLOAD_LIMITS: dict[str, int] = {
    "image/jpeg": 5 * _MB,
    "image/png": 5 * _MB,
    "image/webp": 500 * 1024,
    "audio/aac": 16 * _MB,
    "audio/amr": 16 * _MB,
    "audio/mpeg": 16 * _MB,
    "audio/mp4": 16 * _MB,
    "audio/ogg": 16 * _MB,
    "video/3gpp": 16 * _MB,
    "video/mp4": 16 * _MB,
    "text/plain": 100 * _MB,
    "application/pdf": 100 * _MB,
    "application/msword": 100 * _MB,
    "application/vnd.ms-excel": 100 * _MB,
    "application/vnd.ms-powerpoint": 100 * _MB,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": 100 * _MB,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": 100 * _MB,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": 100 * _MB,
}
_MEDIA_TYPES = frozenset({"image", "document", "audio", "video", "sticker"})
_VERSION_RE = re.compile(r"^v\d+(?:\.\d+)?$")
_BSUID_RE = re.compile(r"^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}$")
_PHONE_RE = re.compile(r"^\+?[\d\s()\-]{5,30}$")
_TEMPLATE_PARAM_RE = re.compile(r"[\n\t]| {5,}")


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class ErrorSpec:
    """Meta's title, default details and HTTP status for one error code."""

    title: str
    details: str
    http_status: int = 400


#: Known Cloud API error codes: title (the ``message`` is ``"(#code) title"``), default
#: ``error_data.details`` and the HTTP status Graph answers with.
ERROR_CATALOG: dict[int, ErrorSpec] = {
    4: ErrorSpec("Application request limit reached", "Too many API calls."),
    80007: ErrorSpec(
        "Rate limit issues", "The WhatsApp Business Account has reached its rate limit."
    ),
    130429: ErrorSpec("Rate limit hit", "Cloud API message throughput has been reached."),
    131000: ErrorSpec(
        "Something went wrong", "Message failed to send due to an unknown error.", 500
    ),
    131008: ErrorSpec("Required parameter is missing", "A required parameter is missing."),
    131009: ErrorSpec("Parameter value is not valid", "A parameter value is not valid."),
    131016: ErrorSpec(
        "Service unavailable", "A service is temporarily unavailable. Please try again later.", 503
    ),
    131026: ErrorSpec(
        "Message undeliverable",
        "Message Undeliverable: the recipient is not a WhatsApp user or cannot receive "
        "this message.",
    ),
    131047: ErrorSpec(
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number.",
    ),
    131048: ErrorSpec(
        "Spam rate limit hit",
        "Message failed to send because there are restrictions on how many messages can be "
        "sent from this phone number. This may be because too many previous messages were "
        "blocked or flagged as spam.",
    ),
    131049: ErrorSpec(
        "This message was not delivered to maintain healthy ecosystem engagement.",
        "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
    ),
    131053: ErrorSpec("Media upload error", "Unable to upload the media used in the message."),
    131056: ErrorSpec(
        "(Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone "
        "number to the same phone number in a short period of time.",
    ),
    132000: ErrorSpec(
        "Number of parameters does not match the expected number of params",
        "The number of variable parameter values does not match the number of variable "
        "parameters defined in the template.",
    ),
    132001: ErrorSpec(
        "Template name does not exist in the translation",
        "The template does not exist in the specified language or the template has not been "
        "approved.",
    ),
}


def _fbtrace_id() -> str:
    return "A" + secrets.token_urlsafe(16)[:22]


@dataclass(frozen=True)
class GraphError:
    """One Cloud API error, renderable both as a Graph response and as a webhook ``errors[]``."""

    code: int
    title: str
    details: str
    http_status: int = 400
    type: str = "OAuthException"
    subcode: int | None = None
    #: Graph's ``message``; defaults to ``"(#<code>) <title>"``.
    message_text: str | None = None

    @classmethod
    def from_code(
        cls,
        code: int,
        *,
        title: str | None = None,
        details: str | None = None,
        http_status: int | None = None,
    ) -> GraphError:
        """The error for ``code`` with Meta's title/details/HTTP status (overridable)."""
        spec = ERROR_CATALOG.get(code, ErrorSpec(f"Error {code}", f"Error {code}."))
        return cls(
            code=code,
            title=title if title is not None else spec.title,
            details=details if details is not None else spec.details,
            http_status=http_status if http_status is not None else spec.http_status,
        )

    @property
    def message(self) -> str:
        """The ``error.message`` Graph sends (``"(#131047) Re-engagement message"``)."""
        return self.message_text or f"(#{self.code}) {self.title}"

    def response_body(self) -> dict[str, Any]:
        """The JSON body of the HTTP error response (``{"error": {...}}``)."""
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.details:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        error["fbtrace_id"] = _fbtrace_id()
        return {"error": error}

    def webhook_error(self) -> dict[str, Any]:
        """The error as found in a webhook's ``statuses[].errors[]`` (asynchronous failures)."""
        return {
            "code": self.code,
            "title": self.title,
            "message": self.title,
            "error_data": {"details": self.details},
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
        }


class _ApiError(Exception):
    def __init__(self, error: GraphError) -> None:
        super().__init__(error.message)
        self.error = error


def _invalid(details: str) -> _ApiError:
    """131009 "Parameter value is not valid" with ``details`` (the interactive limit errors)."""
    return _ApiError(GraphError.from_code(131009, details=details))


def _param(message: str, details: str | None = None) -> _ApiError:
    """Graph's generic code 100 ("Invalid parameter") with a specific message."""
    return _ApiError(
        GraphError(code=100, title="Invalid parameter", details=details or "", message_text=message)
    )


def _no_such_object(object_id: str, verb: str) -> _ApiError:
    return _ApiError(
        GraphError(
            code=100,
            title="Unsupported request",
            details="",
            type="GraphMethodException",
            subcode=33,
            message_text=(
                f"Unsupported {verb} request. Object with ID '{object_id}' does not exist, cannot "
                "be loaded due to missing permissions, or does not support this operation. "
                "Please read the Graph API documentation at "
                "https://developers.facebook.com/docs/graph-api"
            ),
        )
    )


# --------------------------------------------------------------------------- public data types


def new_wamid(wa_id: str = "") -> str:
    """A fresh message id shaped like Meta's (``wamid.`` + base64 of an opaque blob)."""
    digits = re.sub(r"\D", "", wa_id) or "0"
    blob = (
        b"\x18"
        + bytes([len(digits)])
        + digits.encode()
        + b"\x15\x02\x00\x12\x18\x20"
        + secrets.token_hex(16).upper().encode()
        + b"\x00"
    )
    return "wamid." + base64.b64encode(blob).decode()


@dataclass(frozen=True)
class ReplyButton:
    """A reply button of an interactive ``button`` message."""

    id: str
    title: str


@dataclass(frozen=True)
class ListRow:
    """A row of an interactive ``list`` message (``section`` is its section's title)."""

    id: str
    title: str
    description: str | None = None
    section: str | None = None


@dataclass(frozen=True)
class TemplateInfo:
    """A template send: name, language code, body text parameters, raw components."""

    name: str
    language: str
    parameters: list[str]
    components: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def component_parameters(self, component_type: str) -> list[dict[str, Any]]:
        """Raw ``parameters`` of every component of ``component_type`` (case-insensitive)."""
        return [
            param
            for component in self.components
            if str(component.get("type", "")).lower() == component_type.lower()
            for param in component.get("parameters") or []
        ]


@dataclass(frozen=True)
class SentMedia:
    """Media of a sent message (or of an interactive media header).

    ``content``/``mime_type``/``filename`` are resolved from the fake's media store when the
    message referenced an uploaded ``media_id``; ``link`` sends carry no content.
    """

    kind: str
    media_id: str | None
    link: str | None
    caption: str | None
    filename: str | None
    mime_type: str | None = None
    content: bytes | None = field(default=None, repr=False)


@dataclass
class SentMessage:
    """A message the bot sent successfully (``POST …/messages`` answered 200).

    ``text`` is the text body, the interactive body text or the media caption (``None`` for
    templates and caption-less media).  ``failure`` is set when an *asynchronous* error was
    injected: the send succeeded but the message will fail (see :meth:`GraphError.webhook_error`).
    """

    id: str
    to: str
    type: str
    text: str | None
    payload: dict[str, Any] = field(repr=False)
    interactive_type: str | None = None
    header: str | None = None
    footer: str | None = None
    buttons: list[ReplyButton] = field(default_factory=list)
    list_button: str | None = None
    rows: list[ListRow] = field(default_factory=list)
    template: TemplateInfo | None = None
    media: SentMedia | None = None
    reply_to: str | None = None
    tracker: str | None = None
    failure: GraphError | None = None

    @property
    def button_ids(self) -> list[str]:
        """Ids of the reply buttons, in order."""
        return [button.id for button in self.buttons]

    @property
    def row_ids(self) -> list[str]:
        """Ids of the list rows, in order."""
        return [row.id for row in self.rows]


@dataclass(frozen=True)
class RejectedSend:
    """A send answered with an error (validation or injected); it was *not* delivered."""

    to: str | None
    type: str | None
    error: GraphError
    payload: Any = field(repr=False)


@dataclass(frozen=True)
class ReadReceipt:
    """A mark-as-read request (``typing`` when it also showed the typing indicator)."""

    message_id: str
    typing: bool = False


@dataclass
class StoredMedia:
    """A media object held by the fake (uploaded by the bot or "sent" by an applicant)."""

    id: str
    content: bytes = field(repr=False)
    mime_type: str
    filename: str | None = None
    download_token: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    expired: bool = False
    deleted: bool = False

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the content (as ``GET /{media_id}`` reports it)."""
        return hashlib.sha256(self.content).hexdigest()


@dataclass
class _ErrorRule:
    error: GraphError
    to: str | None
    remaining: int | None
    asynchronous: bool


@dataclass(frozen=True)
class RecordedCall:
    """Every authorised request: HTTP method, path and decoded body (JSON, or form fields)."""

    method: str
    path: str
    body: Any = field(repr=False)


# --------------------------------------------------------------------------- transport


class GraphRedirectTransport(httpx.AsyncBaseTransport):
    """httpx transport sending ``graph.facebook.com`` requests to ``target`` (path kept).

    Requests to other hosts go out unchanged through ``inner`` (default: a plain
    ``httpx.AsyncHTTPTransport``) if ``passthrough_hosts`` is ``None`` or lists them; any other
    host fails with ``httpx.ConnectError`` (tests stay on loopback).
    """

    def __init__(
        self,
        target: str,
        *,
        hosts: frozenset[str] = GRAPH_HOSTS,
        passthrough_hosts: frozenset[str] | None = None,
        inner: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """Args:
        target: root URL of the replacement server, e.g. ``http://127.0.0.1:8123``.
        hosts: host names to redirect.
        passthrough_hosts: other hosts allowed through unchanged (``None``: all).
        inner: transport actually performing the requests.
        """
        self._target = httpx.URL(target)
        self._hosts = hosts
        self._passthrough = passthrough_hosts
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Rewrite scheme/host/port of Graph requests, then delegate to the inner transport."""
        if request.url.host in self._hosts:
            target = self._target
            request.url = request.url.copy_with(
                scheme=target.scheme, host=target.host, port=target.port
            )
            request.headers["Host"] = target.netloc.decode("ascii")
        elif self._passthrough is not None and request.url.host not in self._passthrough:
            raise httpx.ConnectError(
                f"{request.url.host} is not reachable from tests (loopback only)",
                request=request,
            )
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()


# --------------------------------------------------------------------------- internals


@dataclass(frozen=True)
class _Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def _parse_multipart(body: bytes, content_type: str) -> list[_Part]:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise _param("(#100) Invalid multipart body: no boundary")
    delimiter = b"--" + match.group(1).encode("latin-1")
    parts: list[_Part] = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            continue
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = re.search(r'(?:^|;)\s*name="([^"]*)"', disposition)
        if name is None:
            continue
        filename = re.search(r'(?:^|;)\s*filename="([^"]*)"', disposition)
        parts.append(
            _Part(
                name=name.group(1),
                filename=filename.group(1) if filename else None,
                content_type=headers.get("content-type"),
                data=data.removesuffix(b"\r\n"),
            )
        )
    return parts


def _text_field(obj: Any, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


def _check_length(value: str | None, maximum: int, details: str, *, required: bool) -> None:
    if value is None or value == "":
        if required:
            raise _invalid(details)
        return
    if len(value) > maximum:
        raise _invalid(details)


_Handler = Callable[[Request], Awaitable[Response]]


# --------------------------------------------------------------------------- the fake


class FakeGraphApi:
    """In-process fake of ``https://graph.facebook.com`` for one WhatsApp business number.

    Observe the bot through :attr:`sent` (successful sends), :attr:`rejected` (sends answered
    with an error), :attr:`read_receipts`, :attr:`calls`, :meth:`messages_to`,
    :meth:`wait_for_messages`; make things fail with :meth:`inject_error`,
    :meth:`expire_media`; simulate applicants' media with :meth:`add_media` (webhook payloads
    come from ``tests/fakes/whatsapp_webhook.py``).
    """

    def __init__(
        self,
        *,
        phone_id: str = DEFAULT_PHONE_ID,
        token: str = DEFAULT_TOKEN,
        app_secret: str = "fake-app-secret",
        verify_token: str = "fake-verify-token",
        waba_id: str = DEFAULT_WABA_ID,
        display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
        api_version: str = DEFAULT_API_VERSION,
    ) -> None:
        """Create the fake (not started yet; use ``start()`` or ``async with``).

        Args:
            phone_id: the business phone number id (the only one messages can be sent from).
            token: the only accepted access token (``Authorization: Bearer …``).
            app_secret: the app secret webhooks are signed with (see ``whatsapp_webhook.sign``).
            verify_token: the webhook verify token (``hub.verify_token``).
            waba_id: WhatsApp Business Account id (``entry[].id`` of webhooks).
            display_phone_number: the business number as shown in webhook ``metadata``.
            api_version: Graph version used in :attr:`base_url` (any ``v<N>.<M>`` is served).
        """
        self.phone_id = phone_id
        self.token = token
        self.app_secret = app_secret
        self.verify_token = verify_token
        self.waba_id = waba_id
        self.display_phone_number = display_phone_number
        self.api_version = api_version

        #: Successful sends, in order.
        self.sent: list[SentMessage] = []
        #: Sends answered with a Graph error (validation failures and injected errors).
        self.rejected: list[RejectedSend] = []
        #: Mark-as-read / typing indicator requests.
        self.read_receipts: list[ReadReceipt] = []
        #: Every authorised request, including failures.
        self.calls: list[RecordedCall] = []
        #: Exceptions raised inside the fake (answered with HTTP 500); should stay empty.
        self.internal_errors: list[BaseException] = []
        #: Media known to the fake, by id.
        self.media: dict[str, StoredMedia] = {}
        #: Seconds every request waits before it is answered (a slow network).
        self.response_delay = 0.0

        self.root_url = ""
        self.base_url = ""
        self.port: int | None = None

        self._rules: list[_ErrorRule] = []
        self._templates: dict[tuple[str, str], int] = {}
        self._aliases: dict[str, str] = {}
        self._media_by_token: dict[str, StoredMedia] = {}
        self._media_ids = itertools.count(1)
        self._sessions: list[httpx.AsyncClient] = []
        self._signal = Signal()
        self._inflight = 0
        self._last_activity = time.monotonic()
        self._loopback: LoopbackServer = LoopbackServer(Starlette(), "FakeGraphApi")

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind 127.0.0.1 on a free port and serve in the current event loop (≤ 5 s)."""
        if self._loopback.running:
            raise RuntimeError("FakeGraphApi already started")
        app = Starlette(
            routes=[
                Route("/media-download/{token}", self._guard(self._download), methods=["GET"]),
                Route(
                    "/{version}/{object_id}/messages",
                    self._guard(self._messages),
                    methods=["POST"],
                ),
                Route("/{version}/{object_id}/media", self._guard(self._upload), methods=["POST"]),
                Route(
                    "/{version}/{object_id}",
                    self._guard(self._object),
                    methods=["GET", "DELETE"],
                ),
                Route(
                    "/{rest:path}",
                    self._guard(self._unknown_path),
                    methods=["GET", "POST", "DELETE", "PUT"],
                ),
            ]
        )
        self._loopback = LoopbackServer(app, "FakeGraphApi")
        self.port = await self._loopback.start()
        self.root_url = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.root_url}/v{self.api_version}"

    async def stop(self) -> None:
        """Close the sessions made by :meth:`session` and stop serving (bounded, a few s)."""
        sessions, self._sessions = self._sessions, []
        for session in sessions:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(session.aclose(), timeout=2)
        await self._loopback.stop()

    async def __aenter__(self) -> FakeGraphApi:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ pointing clients here

    def transport(self) -> GraphRedirectTransport:
        """An httpx transport routing ``graph.facebook.com`` to this server; other hosts than
        127.0.0.1/localhost are refused (``httpx.ConnectError``)."""
        self._require_started()
        return GraphRedirectTransport(
            self.root_url,
            passthrough_hosts=frozenset({"127.0.0.1", "localhost"}),
            # Plain HTTP to loopback only: skip building a verifying SSL context (~60 ms each).
            inner=httpx.AsyncHTTPTransport(verify=False),
        )

    def session(self, **kwargs: Any) -> httpx.AsyncClient:
        """A new ``httpx.AsyncClient`` for ``WhatsApp(session=…)`` (one per client: pywa refuses
        a session that already carries an ``Authorization`` header).  Closed by :meth:`stop`."""
        kwargs.setdefault("timeout", 5.0)
        session = httpx.AsyncClient(transport=self.transport(), **kwargs)
        self._sessions.append(session)
        return session

    def settings(self) -> dict[str, str]:
        """The `MITRABOT_WHATSAPP_*` settings that point a `mitrabot` process at this fake."""
        return {
            "MITRABOT_WHATSAPP_PHONE_ID": self.phone_id,
            "MITRABOT_WHATSAPP_TOKEN": self.token,
            "MITRABOT_WHATSAPP_APP_SECRET": self.app_secret,
            "MITRABOT_WHATSAPP_VERIFY_TOKEN": self.verify_token,
            "MITRABOT_WHATSAPP_BASE_URL": self.root_url,
            "MITRABOT_WHATSAPP_API_VERSION": self.api_version,
        }

    def client(self, **kwargs: Any) -> WhatsApp:
        """A real ``pywa_async.WhatsApp`` wired to this fake (keyword arguments override)."""
        from pywa_async import WhatsApp

        options: dict[str, Any] = {
            "phone_id": self.phone_id,
            "token": self.token,
            "session": self.session(),
            "app_secret": self.app_secret,
            "verify_token": self.verify_token,
        }
        options.update(kwargs)
        return WhatsApp(**options)

    # ------------------------------------------------------------------ simulating the world

    def add_media(self, content: bytes, mime_type: str, filename: str | None = None) -> str:
        """Register media an applicant "sent"; returns its (numeric) media id for a webhook."""
        return self._store_media(content, mime_type, filename).id

    def media_url(self, media_id: str) -> str:
        """The download URL ``GET /{media_id}`` reports (also usable as a webhook's ``url``)."""
        self._require_started()
        return f"{self.root_url}/media-download/{self.media[media_id].download_token}"

    def expire_media(self, media_id: str) -> None:
        """Make ``media_id`` unknown to Graph (like an id older than 7 days): ``GET /{id}``
        answers code 100 / subcode 33 and its download URL answers 404."""
        self.media[media_id].expired = True
        self._touch()

    def register_user(self, user_id: str, wa_id: str | None = None) -> None:
        """Declare that business-scoped ``user_id`` and phone ``wa_id`` are the same person:
        :meth:`messages_to`/:meth:`inject_error` then match either, and send responses carry
        both ids."""
        if wa_id:
            digits = re.sub(r"\D", "", wa_id)
            self._aliases[digits] = user_id
        self._aliases[user_id] = user_id

    def add_template(self, name: str, language: str = "id", *, body_params: int = 0) -> None:
        """Declare an approved template.  Once any is declared, sending an unknown
        name/language fails with 132001 and a wrong body parameter count with 132000."""
        self._templates[(name, language)] = body_params

    def inject_error(
        self,
        code: int,
        *,
        to: str | None = None,
        times: int | None = 1,
        http_status: int | None = None,
        title: str | None = None,
        details: str | None = None,
        asynchronous: bool = False,
    ) -> GraphError:
        """Make sends fail with Cloud API error ``code`` (title/details/HTTP status like Meta's).

        Args:
            code: e.g. 131047 (outside the 24 h window), 130429 (throughput), 131056 (pair rate
                limit), 131026 (undeliverable), 131000 (unknown, HTTP 500).
            to: only sends to this recipient (wa_id or user id); ``None``: any send.
            times: how many matching sends fail; ``None``: until :meth:`clear_errors`.
            http_status: override the HTTP status (default: Meta's for ``code``).
            title: override the error title.
            details: override ``error_data.details``.
            asynchronous: answer 200 (with a wamid) and mark the recorded message's ``failure``
                instead: how Meta reports 131047/131026 in practice (a ``failed`` status webhook).

        Rules apply in the order they were added, after validation; mark-as-read is never
        affected, and 131047 never affects template messages (allowed outside the window).
        """
        error = GraphError.from_code(code, title=title, details=details, http_status=http_status)
        self._rules.append(
            _ErrorRule(error, self._canonical(to) if to else None, times, asynchronous)
        )
        return error

    def clear_errors(self, to: str | None = None) -> None:
        """Remove injected error rules (all, or those for recipient ``to``)."""
        if to is None:
            self._rules.clear()
        else:
            key = self._canonical(to)
            self._rules = [rule for rule in self._rules if rule.to != key]

    # ------------------------------------------------------------------ observing the bot

    def messages_to(self, recipient: str) -> list[SentMessage]:
        """Successful sends to ``recipient`` (wa_id, with or without ``+``, or user id)."""
        key = self._canonical(recipient)
        return [message for message in self.sent if self._canonical(message.to) == key]

    async def wait_for_messages(
        self,
        count: int,
        timeout: float = 30.0,  # noqa: ASYNC109 - part of the documented helper API
        *,
        to: str | None = None,
    ) -> list[SentMessage]:
        """Wait until at least ``count`` messages were sent (in total, or to ``to``); return
        them all.  Raises ``TimeoutError`` listing what arrived."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            messages = self.sent if to is None else self.messages_to(to)
            if len(messages) >= count:
                return list(messages)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"expected {count} message(s){'' if to is None else f' to {to}'} within "
                    f"{timeout}s, got {len(messages)}: "
                    f"{[(m.to, m.type, m.text) for m in messages]!r}; "
                    f"rejected: {[(r.to, r.error.code) for r in self.rejected]!r}; "
                    f"internal errors: {self.internal_errors!r}"
                )
            await self._signal.wait(remaining)

    async def wait_until_idle(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wait until no request was in flight for 0.2 s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            quiet_left = IDLE_QUIET_PERIOD - (time.monotonic() - self._last_activity)
            if self._inflight == 0 and quiet_left <= 0:
                return
            if remaining <= 0:
                raise TimeoutError(
                    f"fake Graph API not idle after {timeout}s: {self._inflight} in flight"
                )
            wait = remaining if self._inflight else min(quiet_left, remaining)
            await self._signal.wait(wait)

    # ------------------------------------------------------------------ HTTP layer

    def _guard(self, handler: _Handler) -> _Handler:
        async def endpoint(request: Request) -> Response:
            self._inflight += 1
            self._touch()
            try:
                if self.response_delay:
                    await asyncio.sleep(self.response_delay)
                auth = self._check_auth(request)
                if auth is not None:
                    return auth
                return await handler(request)
            except _ApiError as exc:
                return self._error_response(exc.error)
            except Exception as exc:
                self.internal_errors.append(exc)
                return self._error_response(
                    GraphError(
                        code=1,
                        title="An unknown error occurred",
                        details=repr(exc),
                        http_status=500,
                    )
                )
            finally:
                self._inflight -= 1
                self._touch()

        return endpoint

    def _check_auth(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else None
        token = token or request.query_params.get("access_token")
        if token == self.token:
            return None
        if not token:
            error = GraphError(
                code=2500,
                title="An active access token must be used",
                details="",
                http_status=401,
                message_text="An active access token must be used to query information about "
                "the current user.",
            )
        else:
            error = GraphError(
                code=190,
                title="Invalid OAuth access token",
                details="",
                http_status=401,
                message_text="Invalid OAuth access token - Cannot parse access token",
            )
        return self._error_response(error)

    @staticmethod
    def _error_response(error: GraphError) -> Response:
        return JSONResponse(
            error.response_body(),
            status_code=error.http_status,
            headers={"www-authenticate": 'OAuth "Facebook Platform" "invalid_token"'}
            if error.http_status == 401
            else None,
        )

    def _check_version(self, request: Request) -> None:
        version = request.path_params.get("version", "")
        if not _VERSION_RE.match(version):
            raise _param(f"Unknown path components: {request.url.path}")

    async def _unknown_path(self, request: Request) -> Response:
        self.calls.append(RecordedCall(request.method, request.url.path, await request.body()))
        raise _ApiError(
            GraphError(
                code=2500,
                title="Unknown path components",
                details="",
                message_text=f"Unknown path components: {request.url.path}",
            )
        )

    # ------------------------------------------------------------------ /{phone_id}/messages

    async def _messages(self, request: Request) -> Response:
        self._check_version(request)
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        self.calls.append(RecordedCall(request.method, request.url.path, body))
        if request.path_params["object_id"] != self.phone_id:
            raise _no_such_object(request.path_params["object_id"], "post")
        if not isinstance(body, dict):
            raise _param("(#100) Invalid parameter", "Request body must be a JSON object.")
        if body.get("messaging_product") != "whatsapp":
            raise _param("(#100) The parameter messaging_product is required.")
        if body.get("status") == "read":
            return self._mark_read(body)
        recipient: str | None = None
        msg_type = body.get("type", "text")
        try:
            recipient = self._recipient(body)
            message = self._parse_message(body, recipient, msg_type)
            if msg_type == "template":
                self._check_template(message.template)
            rule = self._matching_rule(recipient, msg_type)
            if rule is not None and not rule.asynchronous:
                raise _ApiError(rule.error)
        except _ApiError as exc:
            self.rejected.append(RejectedSend(recipient, str(msg_type), exc.error, body))
            self._touch()
            raise
        if rule is not None:
            message.failure = rule.error
        self.sent.append(message)
        self._touch()
        contact: dict[str, str] = {"input": recipient}
        canonical = self._canonical(recipient)
        if _BSUID_RE.match(recipient):
            contact["user_id"] = recipient
            phone = next(
                (k for k, v in self._aliases.items() if v == recipient and k.isdigit()), None
            )
            if phone:
                contact["wa_id"] = phone
        else:
            contact["wa_id"] = re.sub(r"\D", "", recipient)
            if canonical != contact["wa_id"]:
                contact["user_id"] = canonical
        sent: dict[str, str] = {"id": message.id}
        if msg_type == "template":
            sent["message_status"] = "accepted"
        return JSONResponse(
            {"messaging_product": "whatsapp", "contacts": [contact], "messages": [sent]}
        )

    def _mark_read(self, body: dict[str, Any]) -> Response:
        message_id = body.get("message_id")
        if not isinstance(message_id, str) or not message_id.startswith("wamid."):
            raise _param("(#100) Invalid parameter", "Invalid message_id.")
        typing = isinstance(body.get("typing_indicator"), dict)
        self.read_receipts.append(ReadReceipt(message_id, typing))
        self._touch()
        return JSONResponse({"success": True})

    def _recipient(self, body: dict[str, Any]) -> str:
        to, recipient = body.get("to"), body.get("recipient")
        if isinstance(to, str) and to:
            if not _PHONE_RE.match(to) or not re.sub(r"\D", "", to):
                raise _param("(#100) Invalid parameter", f"Invalid recipient: {to!r}")
            return to
        if isinstance(recipient, str) and recipient:
            if not _BSUID_RE.match(recipient):
                raise _param("(#100) Invalid parameter", f"Invalid recipient: {recipient!r}")
            return recipient
        raise _param("(#100) The parameter to is required.")

    def _parse_message(self, body: dict[str, Any], to: str, msg_type: Any) -> SentMessage:
        if not isinstance(msg_type, str):
            raise _param("(#100) Invalid parameter", "Invalid message type.")
        content = body.get(msg_type)
        if not isinstance(content, dict) and msg_type != "contacts":
            raise _param(f"(#100) The parameter {msg_type} is required.")
        context = body.get("context")
        message = SentMessage(
            id=new_wamid(to),
            to=to,
            type=msg_type,
            text=None,
            payload=copy.deepcopy(body),
            reply_to=context.get("message_id") if isinstance(context, dict) else None,
            tracker=body.get("biz_opaque_callback_data"),
        )
        if msg_type == "text":
            assert isinstance(content, dict)
            text = content.get("body")
            if not isinstance(text, str) or not text.strip():
                raise _param("(#100) The parameter text['body'] is required.")
            if len(text) > MAX_TEXT_BODY:
                raise _param(
                    f"(#100) Param text['body'] must be at most {MAX_TEXT_BODY} characters long."
                )
            message.text = text
        elif msg_type in _MEDIA_TYPES:
            assert isinstance(content, dict)
            message.media = self._media_ref(msg_type, content, f"{msg_type}")
            message.text = message.media.caption
        elif msg_type == "interactive":
            assert isinstance(content, dict)
            self._parse_interactive(content, message)
        elif msg_type == "template":
            assert isinstance(content, dict)
            message.template = self._parse_template(content)
        return message

    def _media_ref(self, kind: str, content: dict[str, Any], where: str) -> SentMedia:
        media_id, link = content.get("id"), content.get("link")
        if bool(media_id) == bool(link):
            raise _param(f"(#100) Param {where} must contain exactly one of 'id' or 'link'.")
        caption = _text_field(content, "caption")
        if caption is not None and len(caption) > MAX_CAPTION:
            raise _param(
                f"(#100) Param {where}['caption'] must be at most {MAX_CAPTION} characters long."
            )
        stored: StoredMedia | None = None
        if media_id:
            stored = self.media.get(str(media_id))
            if stored is None or stored.expired or stored.deleted:
                raise _ApiError(
                    GraphError.from_code(131053, details=f"Media id {media_id} is not valid.")
                )
        filename = _text_field(content, "filename") or (stored.filename if stored else None)
        return SentMedia(
            kind=kind,
            media_id=str(media_id) if media_id else None,
            link=str(link) if link else None,
            caption=caption,
            filename=filename,
            mime_type=stored.mime_type if stored else None,
            content=stored.content if stored else None,
        )

    def _parse_interactive(self, content: dict[str, Any], message: SentMessage) -> None:
        kind = content.get("type")
        if not isinstance(kind, str):
            raise _ApiError(
                GraphError.from_code(
                    131008, details="The parameter interactive['type'] is required."
                )
            )
        message.interactive_type = kind
        action = content.get("action")
        if not isinstance(action, dict):
            raise _ApiError(
                GraphError.from_code(
                    131008, details="The parameter interactive['action'] is required."
                )
            )
        body_text = _text_field(content.get("body"), "text")
        if kind in ("button", "list") or body_text is not None:
            _check_length(
                body_text,
                MAX_INTERACTIVE_BODY,
                f"Body text length invalid. Min length: 1, Max length: {MAX_INTERACTIVE_BODY}",
                required=True,
            )
        message.text = body_text
        footer = _text_field(content.get("footer"), "text")
        _check_length(
            footer,
            MAX_FOOTER_TEXT,
            f"Footer text length invalid. Min length: 1, Max length: {MAX_FOOTER_TEXT}",
            required=False,
        )
        message.footer = footer
        header = content.get("header")
        if isinstance(header, dict):
            header_type = header.get("type")
            if header_type == "text":
                _check_length(
                    _text_field(header, "text"),
                    MAX_HEADER_TEXT,
                    f"Header text length invalid. Min length: 1, Max length: {MAX_HEADER_TEXT}",
                    required=True,
                )
                message.header = header["text"]
            elif header_type in ("image", "document", "video") and isinstance(
                header.get(header_type), dict
            ):
                message.media = self._media_ref(
                    header_type, header[header_type], f"interactive['header']['{header_type}']"
                )
        if kind == "button":
            message.buttons = self._parse_buttons(action)
        elif kind == "list":
            message.list_button, message.rows = self._parse_list(action)

    @staticmethod
    def _parse_buttons(action: dict[str, Any]) -> list[ReplyButton]:
        buttons = action.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_REPLY_BUTTONS:
            raise _invalid(
                f"Invalid buttons count. Min allowed buttons: 1, Max allowed buttons: "
                f"{MAX_REPLY_BUTTONS}"
            )
        parsed: list[ReplyButton] = []
        for button in buttons:
            reply = button.get("reply") if isinstance(button, dict) else None
            if not isinstance(reply, dict) or button.get("type") != "reply":
                raise _invalid("Invalid button type. Only 'reply' buttons are supported")
            title, button_id = _text_field(reply, "title"), _text_field(reply, "id")
            _check_length(
                title,
                MAX_BUTTON_TITLE,
                f"Button title length invalid. Min length: 1, Max length: {MAX_BUTTON_TITLE}",
                required=True,
            )
            _check_length(
                button_id,
                MAX_BUTTON_ID,
                f"Button id length invalid. Min length: 1, Max length: {MAX_BUTTON_ID}",
                required=True,
            )
            assert title is not None and button_id is not None
            parsed.append(ReplyButton(button_id, title))
        if len({b.id for b in parsed}) != len(parsed):
            raise _invalid("Buttons must have unique ids")
        if len({b.title for b in parsed}) != len(parsed):
            raise _invalid("Buttons must have unique titles")
        return parsed

    @staticmethod
    def _parse_list(action: dict[str, Any]) -> tuple[str, list[ListRow]]:
        button = _text_field(action, "button")
        _check_length(
            button,
            MAX_LIST_BUTTON,
            f"Button title length invalid. Min length: 1, Max length: {MAX_LIST_BUTTON}",
            required=True,
        )
        sections = action.get("sections")
        if not isinstance(sections, list) or not 1 <= len(sections) <= MAX_LIST_SECTIONS:
            raise _invalid(
                f"Invalid sections count. Min allowed sections: 1, Max allowed sections: "
                f"{MAX_LIST_SECTIONS}"
            )
        rows: list[ListRow] = []
        for section in sections:
            if not isinstance(section, dict):
                raise _invalid("Invalid section")
            section_title = _text_field(section, "title")
            _check_length(
                section_title,
                MAX_SECTION_TITLE,
                f"Section title length invalid. Min length: 1, Max length: {MAX_SECTION_TITLE}",
                required=len(sections) > 1,
            )
            section_rows = section.get("rows")
            if not isinstance(section_rows, list) or not section_rows:
                raise _invalid("Invalid rows count. Min allowed rows: 1")
            for row in section_rows:
                if not isinstance(row, dict):
                    raise _invalid("Invalid row")
                title, row_id = _text_field(row, "title"), _text_field(row, "id")
                description = _text_field(row, "description")
                _check_length(
                    title,
                    MAX_ROW_TITLE,
                    f"Row title length invalid. Min length: 1, Max length: {MAX_ROW_TITLE}",
                    required=True,
                )
                _check_length(
                    row_id,
                    MAX_ROW_ID,
                    f"Row id length invalid. Min length: 1, Max length: {MAX_ROW_ID}",
                    required=True,
                )
                _check_length(
                    description,
                    MAX_ROW_DESCRIPTION,
                    f"Row description length invalid. Min length: 0, Max length: "
                    f"{MAX_ROW_DESCRIPTION}",
                    required=False,
                )
                assert title is not None and row_id is not None
                rows.append(ListRow(row_id, title, description, section_title))
        if len(rows) > MAX_LIST_ROWS:
            raise _invalid(f"Total row count exceed max allowed count: {MAX_LIST_ROWS}")
        if len({row.id for row in rows}) != len(rows):
            raise _invalid("Row ids must be unique")
        assert button is not None
        return button, rows

    @staticmethod
    def _parse_template(content: dict[str, Any]) -> TemplateInfo:
        name = _text_field(content, "name")
        if not name:
            raise _param("(#100) The parameter template['name'] is required.")
        language = content.get("language")
        code = _text_field(language, "code")
        if not code:
            raise _param("(#100) The parameter template['language']['code'] is required.")
        components = content.get("components") or []
        if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
            raise _param("(#100) Invalid parameter", "template['components'] must be a list.")
        parameters: list[str] = []
        for component in components:
            if str(component.get("type", "")).lower() != "body":
                continue
            for param in component.get("parameters") or []:
                value = _text_field(param, "text")
                if value is None:
                    value = _text_field(param.get(param.get("type", "")), "fallback_value")
                if value is None:
                    continue
                if _TEMPLATE_PARAM_RE.search(value):
                    raise _param(
                        "(#100) Invalid parameter",
                        "Param text cannot have new-line/tab characters or more than 4 "
                        "consecutive spaces",
                    )
                parameters.append(value)
        return TemplateInfo(name, code, parameters, copy.deepcopy(components))

    def _check_template(self, template: TemplateInfo | None) -> None:
        if template is None or not self._templates:
            return
        expected = self._templates.get((template.name, template.language))
        if expected is None:
            raise _ApiError(
                GraphError.from_code(
                    132001,
                    details=f"template name ({template.name}) does not exist in "
                    f"{template.language}",
                )
            )
        if len(template.parameters) != expected:
            raise _ApiError(
                GraphError.from_code(
                    132000,
                    details=f"body: number of localizable_params ({len(template.parameters)}) "
                    f"does not match the expected number of params ({expected})",
                )
            )

    def _matching_rule(self, recipient: str, msg_type: str) -> _ErrorRule | None:
        key = self._canonical(recipient)
        for rule in self._rules:
            if rule.remaining == 0:
                continue
            if rule.to is not None and rule.to != key:
                continue
            if rule.error.code == 131047 and msg_type == "template":
                continue
            if rule.remaining is not None:
                rule.remaining -= 1
            return rule
        return None

    # ------------------------------------------------------------------ media

    async def _upload(self, request: Request) -> Response:
        self._check_version(request)
        content_type = request.headers.get("content-type", "")
        if not content_type.lower().startswith("multipart/form-data"):
            self.calls.append(RecordedCall(request.method, request.url.path, None))
            raise _param("(#100) The parameter file is required.")
        parts = _parse_multipart(await request.body(), content_type)
        fields = {p.name: p.data.decode("utf-8", "replace") for p in parts if p.filename is None}
        self.calls.append(RecordedCall(request.method, request.url.path, fields))
        if request.path_params["object_id"] != self.phone_id:
            raise _no_such_object(request.path_params["object_id"], "post")
        if fields.get("messaging_product") != "whatsapp":
            raise _param("(#100) The parameter messaging_product is required.")
        file_part = next((p for p in parts if p.name == "file" and p.filename is not None), None)
        if file_part is None:
            raise _param("(#100) The parameter file is required.")
        mime_type = (fields.get("type") or file_part.content_type or "").split(";")[0].strip()
        limit = _UPLOAD_LIMITS.get(mime_type)
        if limit is None:
            raise _param(
                f"(#100) Param file must be a file with one of the following types: "
                f"{', '.join(sorted(_UPLOAD_LIMITS))}. Received file of type '{mime_type}'."
            )
        if not file_part.data:
            raise _param("(#100) Param file must not be empty.")
        if len(file_part.data) > limit:
            raise _ApiError(
                GraphError.from_code(
                    131053,
                    details=f"Uploaded file size {len(file_part.data)} exceeds the limit of "
                    f"{limit} bytes for {mime_type}.",
                )
            )
        stored = self._store_media(file_part.data, mime_type, file_part.filename)
        return JSONResponse({"id": stored.id})

    async def _object(self, request: Request) -> Response:
        self._check_version(request)
        object_id = request.path_params["object_id"]
        self.calls.append(RecordedCall(request.method, request.url.path, None))
        stored = self.media.get(object_id)
        verb = request.method.lower()
        if stored is None or stored.expired or stored.deleted:
            raise _no_such_object(object_id, verb)
        if request.method == "DELETE":
            stored.deleted = True
            self._touch()
            return JSONResponse({"success": True})
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": self.media_url(object_id),
                "mime_type": stored.mime_type,
                "sha256": stored.sha256,
                "file_size": len(stored.content),
                "id": stored.id,
            }
        )

    async def _download(self, request: Request) -> Response:
        self.calls.append(RecordedCall(request.method, request.url.path, None))
        stored = self._media_by_token.get(request.path_params["token"])
        if stored is None or stored.expired or stored.deleted:
            return Response(b"", status_code=404)
        headers = {}
        if stored.filename:
            headers["content-disposition"] = f'attachment; filename="{stored.filename}"'
        return Response(stored.content, media_type=stored.mime_type, headers=headers)

    # ------------------------------------------------------------------ bookkeeping

    def _store_media(self, content: bytes, mime_type: str, filename: str | None) -> StoredMedia:
        number = next(self._media_ids)
        media_id = f"{10**15 + number * 7919 + secrets.randbelow(7919)}"
        stored = StoredMedia(media_id, bytes(content), mime_type, filename)
        self.media[media_id] = stored
        self._media_by_token[stored.download_token] = stored
        self._touch()
        return stored

    def _canonical(self, recipient: str) -> str:
        if _BSUID_RE.match(recipient):
            return self._aliases.get(recipient, recipient)
        digits = re.sub(r"\D", "", recipient)
        return self._aliases.get(digits, digits)

    def _require_started(self) -> None:
        if not self.root_url:
            raise RuntimeError("FakeGraphApi is not started (use `async with FakeGraphApi()`)")

    def _touch(self) -> None:
        self._last_activity = time.monotonic()
        self._signal.notify()
