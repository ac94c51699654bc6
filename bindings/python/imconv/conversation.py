"""`Conversation`: a conversation handed out by the library, read lazily
from the library's own view.

A conversation the library hands out holds that view, retained (one
reference count, no copy), and decodes a field the first time it is read
(then keeps it): a page of 1,000 costs what listing them costs, not what
copying 22 fields of each would. The view is released when the object is
collected; it stays valid after the callback and after the instance is
closed. A `Conversation` you build yourself (keyword arguments, as for
`import_conversations`) holds its values.

Either way it behaves as a frozen value: equal when every field is, a
repr with every field, pickled and copied as its values.
"""
import ctypes
import json as _json
from operator import attrgetter
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import _native as n
from .types import ConversationType, GroupAtInfo, Message

_retain = n.lib.imconv_conversation_retain
_release = n.lib.imconv_conversation_release


def _s(b: Optional[bytes]) -> str:
    return b.decode() if b else ""


def _kind(c: n.CConversation) -> ConversationType:
    try:
        return ConversationType(c.type)
    except ValueError:
        return ConversationType.UNKNOWN


def _last_message(c: n.CConversation) -> Optional[Message]:
    if not c.last_message:
        return None
    m = c.last_message.contents
    return Message(_s(m.msg_id), _s(m.sender), m.timestamp, m.seq, m.status, m.is_self,
                   m.is_read, _s(m.json), m.timestamp_ms)


#: Each field: its name, its default (a callable for a fresh list), how it
#: is read from the C view, and whether the value read is kept (strings,
#: lists and the message are; numbers are read from the view each time,
#: which costs less than keeping them). In the C struct's order.
_FIELDS: Tuple[Tuple[str, Any, Callable[[n.CConversation], Any], bool], ...] = (
    ("conversation_id", None, lambda c: _s(c.conversation_id), True),
    ("type", None, _kind, True),
    ("user_id", None, lambda c: _s(c.user_id), True),
    ("group_id", None, lambda c: _s(c.group_id), True),
    ("group_type", None, lambda c: _s(c.group_type), True),
    ("show_name", None, lambda c: _s(c.show_name), True),
    ("face_url", None, lambda c: _s(c.face_url), True),
    ("unread_count", None, attrgetter("unread_count"), False),
    ("recv_opt", None, attrgetter("recv_opt"), False),
    ("last_message", None, _last_message, True),
    ("group_at_info_list", list, lambda c: [GroupAtInfo(c.group_at_info_list[i].seq,
                                                        c.group_at_info_list[i].at_type)
                                            for i in range(c.group_at_info_count)], True),
    ("draft_text", "", lambda c: _s(c.draft_text), True),
    ("draft_timestamp", 0, attrgetter("draft_timestamp"), False),
    ("is_pinned", False, attrgetter("is_pinned"), False),
    ("order_key", 0, attrgetter("order_key"), False),
    ("mark_list", list, lambda c: c.mark_list[:c.mark_count] if c.mark_count else [], True),
    ("custom_data", "", lambda c: _s(c.custom_data), True),
    ("conversation_group_list", list,
     lambda c: [_s(g) for g in c.conversation_group_list[:c.conversation_group_count]]
     if c.conversation_group_count else [], True),
    ("c2c_read_timestamp", 0, attrgetter("c2c_read_timestamp"), False),
    ("group_read_sequence", 0, attrgetter("group_read_sequence"), False),
    ("is_stored", False, attrgetter("is_stored"), False),
    ("read_timestamp_ms", 0, attrgetter("read_timestamp_ms"), False),
)
_NAMES = tuple(f[0] for f in _FIELDS)
_REQUIRED = _NAMES[:10]


class Conversation:
    """A conversation (the C `imconv_conversation`, V2TIMConversation's
    fields under their C names). Handed out by the library it reads its
    fields lazily from the library's view (see the module); built by you,
    it holds the values you give (`conversation_id` to `last_message` are
    required, as positional or keyword arguments)."""

    __slots__ = ("_values", "_view", "_struct")
    _values: Dict[str, Any]
    _view: Optional[int]
    _struct: Optional[n.CConversation]

    # Each field is a property (typed below for mypy; made by _field).
    conversation_id: str
    type: ConversationType
    user_id: str
    group_id: str
    group_type: str
    show_name: str
    face_url: str
    unread_count: int
    recv_opt: int
    last_message: Optional[Message]
    group_at_info_list: List[GroupAtInfo]
    draft_text: str
    draft_timestamp: int
    is_pinned: bool
    order_key: int
    mark_list: List[int]
    custom_data: str
    conversation_group_list: List[str]
    c2c_read_timestamp: int
    group_read_sequence: int
    is_stored: bool
    #: The exact read position in milliseconds ("readTimestampMs").
    read_timestamp_ms: int

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._view = None  # first: __del__ runs even when this raises
        if len(args) > len(_NAMES):
            raise TypeError(f"Conversation takes at most {len(_NAMES)} positional arguments")
        values: Dict[str, Any] = dict(zip(_NAMES, args))
        for name, value in kwargs.items():
            if name not in _NAMES:
                raise TypeError(f"Conversation has no field {name!r}")
            if name in values:
                raise TypeError(f"Conversation got field {name!r} twice")
            values[name] = value
        missing = [name for name in _REQUIRED if name not in values]
        if missing:
            raise TypeError(f"Conversation is missing {', '.join(missing)}")
        for name, default, _, _ in _FIELDS:
            if name not in values:
                values[name] = default() if callable(default) else default
        self._values = values
        self._struct = None

    @classmethod
    def _of_view(cls, address: int) -> "Conversation":
        """Retains a view lent to a callback (its address) and reads it
        lazily from then on."""
        self = _new(cls)
        self._values = {}
        self._view = _retain(address)
        self._struct = None
        return self

    def __del__(self) -> None:
        view = self._view
        if view:
            try:
                _release(view)
            except Exception:  # the interpreter is finalizing: the process ends anyway
                pass

    def _bind(self) -> n.CConversation:
        """The C view as a ctypes structure (made on first use)."""
        assert self._view, "a conversation built from values has every field"
        struct = self._struct = n.CConversation.from_address(self._view)
        return struct

    def _as_dict(self) -> Dict[str, Any]:
        return {name: getattr(self, name) for name in _NAMES}

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Conversation)
        return all(getattr(self, name) == getattr(other, name) for name in _NAMES)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, name) for name in _NAMES))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in _NAMES)
        return f"Conversation({fields})"

    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...], Any]:
        return (_rebuild, (self._as_dict(),), None)

    def __copy__(self) -> "Conversation":
        return self

    def __deepcopy__(self, memo: Any) -> "Conversation":
        return Conversation(**self._as_dict())

    def to_v2(self) -> Dict[str, Any]:
        """The conversation as a V2 JSON object (what `import_conversations`
        takes back to the same conversation)."""
        v2: Dict[str, Any] = {
            "conversationID": self.conversation_id,
            "showName": self.show_name, "faceUrl": self.face_url,
            "unreadCount": self.unread_count, "recvOpt": int(self.recv_opt),
            "groupAtInfoList": [{"seq": a.seq, "atType": a.at_type}
                                for a in self.group_at_info_list],
            "draftText": self.draft_text, "draftTimestamp": self.draft_timestamp,
            "isPinned": self.is_pinned, "orderKey": self.order_key,
            "markList": list(self.mark_list), "customData": self.custom_data,
            "conversationGroupList": list(self.conversation_group_list),
            "c2cReadTimestamp": self.c2c_read_timestamp,
            "groupReadSequence": self.group_read_sequence,
            "readTimestampMs": self.read_timestamp_ms,
        }
        if self.group_type:
            v2["groupType"] = self.group_type
        if self.last_message is not None:
            v2["lastMessage"] = _json.loads(self.last_message.json)
        return v2


def _rebuild(values: Dict[str, Any]) -> Conversation:
    return Conversation(**values)


_MISSING = object()


def _field(name: str, read: Callable[[n.CConversation], Any], kept: bool) -> property:
    """The read-only property of one field (assigning to it raises
    AttributeError: a Conversation is a value)."""
    if kept:
        def get(self: Conversation) -> Any:
            values = self._values
            value = values.get(name, _MISSING)
            if value is _MISSING:
                value = values[name] = read(self._struct or self._bind())
            return value
    else:
        def get(self: Conversation) -> Any:
            struct = self._struct
            if struct is None:
                if self._view is None:
                    return self._values[name]
                struct = self._bind()
            return read(struct)
    get.__name__ = name
    return property(get, doc=f"The conversation's `{name}`.")


for _name, _, _read, _kept in _FIELDS:
    setattr(Conversation, _name, _field(_name, _read, _kept))
_new = object.__new__


def conversations_of(views: Optional[int], count: int) -> List[Conversation]:
    """Conversations of an array of `count` views lent to a callback (its
    address), each retained."""
    if not count or not views:
        return []
    addresses = ctypes.cast(views, ctypes.POINTER(ctypes.c_void_p))[:count]
    of_view = Conversation._of_view
    return [of_view(a) for a in addresses]
