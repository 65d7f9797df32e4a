"""The neutral contract between chat platforms and features.

An adapter turns a native update into an :class:`Event`; a handler answers with a
:class:`Response` (Replies plus the next dialog step); the adapter renders the Replies.
Nothing here knows about Telegram, Matrix or the console.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

# Re-exported: handlers speak of roles and users too.
from storage.privacy.ledger import DEFAULT_KEEP_DAYS as DEFAULT_LEDGER_KEEP_DAYS
from storage.privacy.retention import DEFAULT_RETENTION_MONTHS
from storage.users import Role as Role
from storage.users import User as User


class Sender(BaseModel):
    """Who sent an event, as the platform knows them."""

    model_config = ConfigDict(frozen=True)

    platform_user_id: str
    display_name: str | None = None
    language_hint: str | None = None


class Photo(BaseModel):
    """An image a resident sent, already downloaded by the adapter."""

    model_config = ConfigDict(frozen=True)

    data: bytes = Field(repr=False)
    mime_type: str = "image/jpeg"
    platform_ref: str | None = None


class Location(BaseModel):
    """A point a resident shared."""

    model_config = ConfigDict(frozen=True)

    latitude: float
    longitude: float


class Quoted(BaseModel):
    """The message an event replies to (in a group or room), as the adapter read it."""

    model_config = ConfigDict(frozen=True)

    message_id: str
    #: Its author as the platform knows them (None: unknown, e.g. a channel post).
    sender_id: str | None = None
    #: Its text as the chat shows it now (the latest edit, where it was edited).
    text: str | None = None
    #: Its text as first written, where it was edited since and that differs (else None).
    original: str | None = None
    #: Whether the bot itself wrote it.
    from_bot: bool = False
    #: A link that opens the message in the app, where the platform has one.
    link: str | None = None


class Event(BaseModel):
    """One thing a person did in a chat: a text, a command, a button press, a photo.

    Exactly one of ``text``, ``command``, ``button``, ``photo``, ``location`` is normally
    set; ``unsupported`` names content the bot cannot use (a sticker, a voice message).
    """

    model_config = ConfigDict(frozen=True)

    platform: str
    chat_id: str
    sender: Sender
    text: str | None = None
    command: str | None = None
    args: str = ""
    #: For a command: the message as it was written. A slash before a word that names no
    #: command ("/één keer nog") is read as this text (see the router).
    written: str | None = None
    button: str | None = None
    photo: Photo | None = None
    location: Location | None = None
    unsupported: str | None = None
    #: Text written with a photo or a file (Telegram's caption). No step reads it; the
    #: router gives it back, so it is not lost without a word.
    caption: str | None = None
    #: The message a pressed button was under (so a reply can edit it in place).
    origin_message_id: str | None = None
    #: The platform's id of the message this event is, where the bot may have to take it
    #: away again: a command in a group (a report, which must not show who made it).
    message_id: str | None = None
    #: Whether the chat is a group or room with others in it, rather than the person's
    #: private chat with the bot (set by the adapter; a group is never a person's chat).
    is_group: bool = False
    received_at: datetime | None = None
    #: The platform's stable id for this event, where it has one: an event seen again (a
    #: replay after a crash) is then recognised and not handled twice.
    event_id: str | None = None
    #: The message this one replies to (a report in a room is a reply to what it reports).
    reply_to: Quoted | None = None
    #: The sender just joined this group or room (no text, command or button).
    joined: bool = False
    #: The platform's id for the messages sent together with this one as one (a Telegram
    #: album: several photos at once). The router reads only the first of them (and the
    #: first photo, where the first was none and a step waits for one); the others change
    #: nothing (see the router).
    album: str | None = None

    @property
    def user_key(self) -> tuple[str, str]:
        """The key events of one person are serialised by."""
        return (self.platform, self.sender.platform_user_id)


class Platform(BaseModel):
    """What a chat platform offers, as its adapter declares it."""

    model_config = ConfigDict(frozen=True)

    name: str
    #: Buttons are shown as numbered options, chosen by typing the number or the label.
    numbered_options: bool = False
    #: The longest text one message may have (in the platform's own units), if limited.
    max_text: int | None = None
    #: A public link that opens a private chat with the bot, a start payload appended
    #: (Telegram: ``https://t.me/<bot>?start=``).
    start_link: str | None = None
    #: Someone who writes to the bot in a group is invited to a private chat by the adapter.
    invites_to_private: bool = False


class RoomError(Exception):
    """The platform refused something in a room.

    ``lasting`` when trying again cannot help (the bot is no admin there or was removed,
    the message is gone): the task is given up, not retried.
    """

    def __init__(self, message: str, *, lasting: bool = False):
        super().__init__(message)
        self.lasting = lasting


@runtime_checkable
class RoomOperations(Protocol):
    """What an adapter does in an experiment's group or room, for the runtime.

    Handlers never call these: they store a task (``storage.experiments.rooms``), and the
    runtime carries it out through the adapter once the decision is committed. Each method
    raises :class:`RoomError` when the platform refuses.
    """

    async def invite(self, room: str, person: str) -> str | None:
        """Let ``person`` in: a link only they can use (returned), or a direct invite
        (None)."""

    async def hide(self, room: str, message_id: str) -> None:
        """Delete (Telegram) or redact (Matrix) a message in the room."""

    async def mute(self, room: str, person: str, until: datetime | None) -> None:
        """Keep ``person`` from writing in the room (until ``until``); None lifts it."""

    async def ban(self, room: str, person: str) -> None:
        """Remove ``person`` from the room and keep them out."""

    async def unban(self, room: str, person: str) -> None:
        """Let a banned ``person`` back: they may join (or be invited) again; someone who is
        not banned is left as they are."""

    async def remove(self, room: str, person: str) -> bool:
        """Take ``person`` out of the room without banning them (they may come back when
        let in again); an invite not yet accepted is withdrawn. Whether they were in it (or
        invited): someone not there, banned there, or an admin of it is left as they are."""

    async def admin_problem(self, room: str) -> str | None:
        """Why the bot cannot moderate this room (no admin rights, not in it); None: it can."""


class Installation(BaseModel):
    """What the runtime knows that a handler may use, as one frozen value."""

    model_config = ConfigDict(frozen=True)

    #: How long a silent resident's data is kept (the privacy statement says it).
    retention_months: int = DEFAULT_RETENTION_MONTHS
    #: How long an erasure stays in the erasure ledger (the privacy statement says it).
    erasure_ledger_keep_days: int = DEFAULT_LEDGER_KEEP_DAYS
    #: The platforms running here, as their adapters declared them.
    platforms: tuple[Platform, ...] = ()

    def platform(self, name: str) -> Platform:
        """What platform ``name`` offers (nothing special if no adapter declared it)."""
        return next((p for p in self.platforms if p.name == name), Platform(name=name))

    def with_platform(self, platform: Platform) -> Installation:
        """This installation with ``platform`` declared (replacing an earlier declaration)."""
        others = tuple(p for p in self.platforms if p.name != platform.name)
        return self.model_copy(update={"platforms": (*others, platform)})

    @property
    def start_link(self) -> str | None:
        """A public link into a private chat with the bot, if any platform offers one."""
        return next((p.start_link for p in self.platforms if p.start_link), None)


class Button(BaseModel):
    """A button under a message: a catalog key for its label and the payload it sends."""

    model_config = ConfigDict(frozen=True)

    label: str
    payload: str
    params: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def raw(cls, text: str, payload: str) -> Button:
        """A button whose label is data (an idea title, a neighbourhood), not catalog text."""
        return cls(label="raw", payload=payload, params={"text": text})


class Document(BaseModel):
    """A file sent to the person (a data export, a poster)."""

    # Base64 in JSON, so replies with a file can be stored until they were delivered.
    model_config = ConfigDict(frozen=True, ser_json_bytes="base64", val_json_bytes="base64")

    filename: str
    data: bytes = Field(repr=False)
    mime_type: str = "application/octet-stream"


class Reply(BaseModel):
    """One message to send: catalog key and parameters, buttons, optional media.

    ``params`` are data and are escaped by the renderer; the catalog text around them may
    carry simple markup (``<b>``, ``<i>``). ``parts`` are rendered after the main text, one
    per line (the lines of a list, the rows of a card).
    """

    model_config = ConfigDict(frozen=True)

    key: str
    params: dict[str, Any] = Field(default_factory=dict)
    buttons: list[list[Button]] = Field(default_factory=list)
    parts: list[Reply] = Field(default_factory=list)
    photo_id: int | None = None
    document: Document | None = None
    edit: bool = False
    #: The answer to this message is typed (text, a number): where buttons are shown as
    #: numbered options, they are shown by label instead, so "2" is not mistaken for one.
    by_label: bool = False
    #: What is filled in is shown as written (staff's Dutch, residents' words in whatever
    #: language they wrote, a profile text without the reader's language): a reader in
    #: another language gets a one-line note saying so under it. Samenspel does not
    #: machine-translate. Not for a list of the reader's own words only.
    original: bool = False


class Dialog(BaseModel):
    """Where a person is in a multi-step conversation, persisted between events.

    ``token`` changes whenever the step changes, so a button from an older step (or an
    older dialog) is recognised as stale.
    """

    name: str
    step: str
    data: dict[str, Any] = Field(default_factory=dict)
    token: str = Field(default_factory=lambda: secrets.token_hex(3))
    updated_at: datetime | None = None

    def to(self, step: str, **data: Any) -> Dialog:
        """The same dialog at ``step`` with ``data`` merged in (and a fresh token)."""
        token = self.token if step == self.step else secrets.token_hex(3)
        return Dialog(name=self.name, step=step, data={**self.data, **data}, token=token)

    def button(self, label: str, value: str, **params: Any) -> Button:
        """A button that answers this step of this dialog."""
        return Button(label=label, payload=f"~{self.token}:{value}", params=params)

    def raw_button(self, text: str, value: str) -> Button:
        """A dialog button whose label is data rather than catalog text."""
        return Button(label="raw", payload=f"~{self.token}:{value}", params={"text": text})


class Timer(BaseModel):
    """Something that must happen at a moment: a scheduled broadcast, the end of a mute.

    Handlers store the thing itself (the database is the source of truth) and return a Timer
    so the runtime arms its trigger once the transaction is committed. ``job`` is
    ``"<kind>:<id>"``; ``at=None`` disarms the job.
    """

    model_config = ConfigDict(frozen=True)

    job: str
    at: datetime | None


class Response(BaseModel):
    """What a handler returns: the replies and the dialog to continue with.

    A dialog step that returns no dialog ends its dialog; a command that returns none leaves
    the person outside any dialog. A button action or an any-time command (help, privacy)
    leaves an active dialog as it was, unless it returns a new one or sets ``end_dialog``.
    """

    replies: list[Reply] = Field(default_factory=list)
    dialog: Dialog | None = None
    end_dialog: bool = False
    timers: list[Timer] = Field(default_factory=list)


def reply(key: str, buttons: list[list[Button]] | None = None, **params: Any) -> Reply:
    """Shorthand for a Reply with buttons and parameters."""
    return Reply(key=key, params=params, buttons=buttons or [])


def given_back(event: Event, key: str = "general.typed_not_kept") -> list[Reply]:
    """The text someone typed where it cannot be taken, given back under ``key`` (a text
    with ``{text}``), so it is not lost without a word; nothing for a button or blank text."""
    typed = (event.text or "").strip() if event.button is None else ""
    return [Reply(key=key, params={"text": typed})] if typed else []


def respond(
    *replies: Reply,
    dialog: Dialog | None = None,
    end_dialog: bool = False,
    timers: list[Timer] | None = None,
) -> Response:
    """Shorthand for a Response."""
    return Response(
        replies=list(replies), dialog=dialog, end_dialog=end_dialog, timers=timers or []
    )


def rows(buttons: list[Button], per_row: int = 1) -> list[list[Button]]:
    """Lay buttons out ``per_row`` to a row."""
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]
