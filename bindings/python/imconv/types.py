"""The values imconv hands out and takes: conversations, messages,
filters, pages, events, and the enumerations of `imconv.h`.

Values are frozen dataclasses with the C field names; `Conversation`
(in `conversation`) reads the library's view lazily instead of copying it.
They stay valid after the instance is closed.
"""
import json as _json
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

if TYPE_CHECKING:
    from .conversation import Conversation


class ConversationType(IntEnum):
    """IMCONV_CONVERSATION_TYPE_*."""

    UNKNOWN = 0
    C2C = 1
    GROUP = 2


class RecvOpt(IntEnum):
    """IMCONV_RECV_OPT_*: how a conversation's messages are received."""

    RECEIVE = 0
    NOT_RECEIVE = 1
    NOT_NOTIFY = 2
    NOT_NOTIFY_EXCEPT_AT = 3
    NOT_RECEIVE_EXCEPT_AT = 4


class AtType(IntEnum):
    """IMCONV_AT_*: what an @ mention names."""

    AT_ME = 1
    AT_ALL = 2
    AT_ALL_AT_ME = 3


class Mark(IntFlag):
    """IMCONV_MARK_*: the built-in mark bits (custom marks use bits 32-63)."""

    STAR = 1
    UNREAD = 2
    FOLD = 4
    HIDE = 8


class SyncStage(IntEnum):
    """IMCONV_SYNC_*: a stage of the host's sync with its server
    (`report_sync`)."""

    STARTED = 1
    FINISHED = 2
    FAILED = 3


class LogLevel(IntEnum):
    """IMCONV_LOG_*, most severe first."""

    ERROR = 1
    WARN = 2
    INFO = 3
    DEBUG = 4


@dataclass(frozen=True)
class Message:
    """A conversation's last message (the C `imconv_message`); `json` is the
    whole message object as it was applied or imported."""

    msg_id: str
    sender: str
    timestamp: int
    seq: int
    status: int
    is_self: bool
    is_read: bool
    json: str
    #: Milliseconds ("timestampMs"; without it, the start of its second).
    timestamp_ms: int = 0


@dataclass(frozen=True)
class GroupAtInfo:
    """One unread @ mention: the message's sequence and what it named."""

    seq: int
    at_type: int


@dataclass(frozen=True)
class NewMessage:
    """A message for `apply_messages`: the required fields, the optional
    ones imconv reads, and `fields` for anything else the message carries
    (kept, since the whole object may become `last_message`)."""

    conversation_id: str
    msg_id: str
    #: Seconds; optional when `timestamp_ms` is given (then its second).
    timestamp: Optional[int] = None
    seq: Optional[int] = None
    sender: Optional[str] = None
    is_self: Optional[bool] = None
    is_read: Optional[bool] = None
    status: Optional[int] = None
    group_at_user_list: Optional[Sequence[str]] = None
    #: The host's verdicts: whether it counts as unread, and its atType
    #: (0 to 3), in place of the engine's rules.
    counts_as_unread: Optional[bool] = None
    at_type: Optional[int] = None
    #: Milliseconds ("timestampMs"): the message's exact place in time.
    timestamp_ms: Optional[int] = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_v2(self) -> Dict[str, Any]:
        """The message as a V2 JSON object."""
        v2: Dict[str, Any] = dict(self.fields)
        v2.update(conversationID=self.conversation_id, msgID=self.msg_id)
        for key, value in (("timestamp", self.timestamp), ("timestampMs", self.timestamp_ms),
                           ("seq", self.seq), ("sender", self.sender), ("isSelf", self.is_self),
                           ("isRead", self.is_read), ("status", self.status),
                           ("countsAsUnread", self.counts_as_unread), ("atType", self.at_type)):
            if value is not None:
                v2[key] = value
        if self.group_at_user_list is not None:
            v2["groupAtUserList"] = list(self.group_at_user_list)
        return v2


@dataclass(frozen=True)
class Profile:
    """A profile for `update_profiles`: one of `user_id` and `group_id`."""

    user_id: Optional[str] = None
    group_id: Optional[str] = None
    show_name: Optional[str] = None
    face_url: Optional[str] = None

    def to_v2(self) -> Dict[str, Any]:
        """The profile as a V2 JSON object."""
        v2: Dict[str, Any] = {}
        for key, value in (("userID", self.user_id), ("groupID", self.group_id),
                           ("showName", self.show_name), ("faceUrl", self.face_url)):
            if value is not None:
                v2[key] = value
        return v2


@dataclass(frozen=True)
class Filter:
    """Which conversations a page or an unread total covers
    (V2TIMConversationListFilter); the default covers all."""

    type: ConversationType = ConversationType.UNKNOWN
    mark: int = 0
    group: Optional[str] = None
    has_unread: bool = False
    has_at: bool = False


@dataclass(frozen=True)
class Page:
    """One page of the ordered list, and where the next one starts."""

    conversations: List["Conversation"]
    next_cursor: str
    is_finished: bool


@dataclass(frozen=True)
class Event:
    """One listener event, as `AsyncSdk.events()` yields it. `kind` is
    "new", "changed", "deleted", "total_unread"; "sync_start",
    "sync_finish", "sync_failed"; "group_created", "group_deleted",
    "group_renamed", "added_to_group", "deleted_from_group";
    "unread_count"; "store_error" (the store is damaged or failed: `code`
    is the ErrorCode, `message` says what, `conversation_ids` the damaged
    conversations); or "gap" (the reader fell behind and `total` events
    were dropped before this point: re-read what they would have told).
    `conversations` holds the new, changed or grouped ones,
    `conversation_ids` the deleted ones, `total` the new unread total, a
    subscription's new count or the events dropped, `group_name` (and
    `new_group_name` for a rename) the group, `subscription_id` and
    `filter` the subscription."""

    kind: str
    conversations: Tuple["Conversation", ...] = ()
    conversation_ids: Tuple[str, ...] = ()
    total: int = 0
    group_name: str = ""
    new_group_name: str = ""
    subscription_id: int = 0
    filter: Optional[Filter] = None
    code: int = 0
    message: str = ""


#: What a write taking a JSON array accepts: the JSON text itself, or a
#: sequence of objects (dicts, or the matching dataclass).
ConversationsInput = Union[str, Sequence[Union[Mapping[str, Any], "Conversation"]]]
MessagesInput = Union[str, Sequence[Union[Mapping[str, Any], NewMessage]]]
ProfilesInput = Union[str, Sequence[Union[Mapping[str, Any], Profile]]]


def json_array(items: Union[str, Sequence[Any]]) -> bytes:
    """The UTF-8 JSON text of a write's array argument."""
    if isinstance(items, str):
        return items.encode()
    objects: Sequence[Any] = items
    return _json.dumps([i if isinstance(i, Mapping) else i.to_v2() for i in objects],
                       ensure_ascii=False).encode()
