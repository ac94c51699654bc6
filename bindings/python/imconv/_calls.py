"""How a call's answer gets back to Python.

The library calls a fixed set of ctypes functions, created once and kept
for the life of the module (a collected thunk would be a jump into freed
memory). Each call's completion waits in a table under an integer token
passed as `user_data` until its one callback has run; listeners wait in a
table of their own until removed. A thunk copies what it is lent into
Python values before it returns, and never lets an exception reach C: one
raised by user code is reported (see `set_callback_error_handler`).
"""
import ctypes
import itertools
import logging
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import _native as n
from .errors import ErrorCode, ImconvError, error_for
from .conversation import Conversation, conversations_of
from .types import ConversationType, Event, Filter, Page

Complete = Callable[[Any, Optional[ImconvError]], None]
ErrorHandler = Callable[[BaseException], None]

_log = logging.getLogger("imconv")
_lock = threading.Lock()
_tokens = itertools.count(1)
#: token -> (the instance's key, what to run with the answer)
_pending: Dict[int, Tuple[int, Complete]] = {}
#: token -> (the instance's key, the listener's Python callbacks)
_listeners: Dict[int, Tuple[int, "ListenerFns"]] = {}
_local = threading.local()


def _default_error_handler(error: BaseException) -> None:
    _log.error("an exception was raised by a callback", exc_info=error)


_error_handler: ErrorHandler = _default_error_handler


def set_callback_error_handler(handler: Optional[ErrorHandler]) -> None:
    """Sets what receives an exception raised by your callback (a listener,
    the log callback): by default it is logged as an error on the "imconv"
    logger. None restores the default. It never reaches the library."""
    global _error_handler
    _error_handler = handler or _default_error_handler


def report(error: BaseException) -> None:
    """Hands an exception raised by user code to the error handler."""
    try:
        _error_handler(error)
    except BaseException:  # the handler itself failed: last resort
        _default_error_handler(error)


def delivering(instance: int) -> bool:
    """True on a thread that is inside a callback of that instance."""
    return instance in getattr(_local, "instances", ())


class _Delivering:
    """Marks the current thread as inside a callback of one instance."""

    def __init__(self, instance: int) -> None:
        self.instance = instance

    def __enter__(self) -> None:
        stack: List[int] = getattr(_local, "instances", None) or []
        stack.append(self.instance)
        _local.instances = stack

    def __exit__(self, *exc: object) -> None:
        _local.instances.pop()


def register(instance: int, complete: Complete) -> int:
    """Keeps `complete` until the call's callback runs; returns its token."""
    # One dict operation each, here and in _answer: atomic without a lock
    # (the GIL; a free-threaded build locks dicts itself).
    token = next(_tokens)
    _pending[token] = (instance, complete)
    return token


def forget(token: int) -> None:
    """Drops a call the library refused (no callback will come)."""
    _pending.pop(token, None)


def _answer(token: Optional[int], make: Callable[[], Any],
            error: Optional[ImconvError] = None) -> None:
    instance, complete = _pending.pop(token or 0)
    try:
        value = make() if error is None else None
    except BaseException as e:  # a view we could not copy: fail the call
        value, error = None, ImconvError(6999, f"the answer could not be read: {e!r}")
    # Marks this thread as inside a callback of the instance (see
    # `delivering`), inline: this runs once per answer.
    stack: Optional[List[int]] = getattr(_local, "instances", None)
    if stack is None:
        stack = _local.instances = []
    stack.append(instance)
    try:
        complete(value, error)
    except BaseException as e:
        report(e)
    finally:
        stack.pop()


# ---- copying views ----------------------------------------------------------

def _s(b: Optional[bytes]) -> str:
    return b.decode() if b else ""


def _copy_strings(strings: Any, count: int) -> List[str]:
    return [_s(strings[i]) for i in range(count)]


# ---- the call thunks ----------------------------------------------------------

def _on_conversation_py(view: Any, token: Optional[int]) -> None:
    _answer(token, lambda: Conversation._of_view(view))


on_conversation: Any = n.CONVERSATION_CB(_on_conversation_py)


def _on_list_py(views: Any, count: int, token: Optional[int]) -> None:
    _answer(token, lambda: conversations_of(views, count))


on_list: Any = n.LIST_CB(_on_list_py)


def _on_page_py(views: Any, count: int, cursor: Optional[bytes], finished: bool,
            token: Optional[int]) -> None:
    _answer(token, lambda: Page(conversations_of(views, count), _s(cursor), bool(finished)))


on_page: Any = n.PAGE_CB(_on_page_py)


def _on_count_py(value: int, token: Optional[int]) -> None:
    _answer(token, lambda: int(value))


on_count: Any = n.COUNT_CB(_on_count_py)


def _on_strings_py(strings: Any, count: int, token: Optional[int]) -> None:
    _answer(token, lambda: _copy_strings(strings, count))


on_strings: Any = n.STRINGS_CB(_on_strings_py)


def _on_done_py(token: Optional[int]) -> None:
    _answer(token, lambda: None)


on_done: Any = n.DONE_CB(_on_done_py)


def _on_error_py(code: int, desc: Optional[bytes], token: Optional[int]) -> None:
    _answer(token, lambda: None, error_for(code, _s(desc)))


on_error: Any = n.ERROR_CB(_on_error_py)


# ---- listeners ------------------------------------------------------------------

#: The listener's members, as `add_listener` names them (the C names).
LISTENER_EVENTS = (
    "on_new", "on_changed", "on_deleted", "on_total_unread_changed",
    "on_sync_server_start", "on_sync_server_finish", "on_sync_server_failed",
    "on_conversation_group_created", "on_conversation_group_deleted",
    "on_conversation_group_name_changed", "on_conversations_added_to_group",
    "on_conversations_deleted_from_group", "on_unread_count_changed_by_filter",
    "on_store_error",
)


class ListenerFns:
    """A listener's Python callbacks by member name (absent: not called)."""

    def __init__(self, **fns: Optional[Callable[..., None]]) -> None:
        unknown = set(fns) - set(LISTENER_EVENTS)
        if unknown:
            raise TypeError(f"unknown listener events: {sorted(unknown)}")
        self.fns = {name: fn for name, fn in fns.items() if fn is not None}


def _event(token: Optional[int], name: str, make: Callable[[], Tuple[Any, ...]]) -> None:
    with _lock:
        entry = _listeners.get(token or 0)
    if entry is None:
        return
    instance, fns = entry
    fn = fns.fns.get(name)
    if fn is None:
        return
    with _Delivering(instance):
        try:
            fn(*make())
        except BaseException as e:
            report(e)


def _code_of(code: int) -> Union[ErrorCode, int]:
    try:
        return ErrorCode(code)
    except ValueError:
        return code


def _filter_of(f: Any) -> Filter:
    try:
        kind = ConversationType(f.type)
    except ValueError:
        kind = ConversationType.UNKNOWN
    return Filter(kind, f.mark, f.group.decode() if f.group else None, f.has_unread, f.has_at)


# Each C member's thunk: what it lends, copied into the Python callback's arguments.
_thunks: Dict[str, Any] = {
    "on_new": n.LIST_CB(lambda v, k, t: _event(t, "on_new", lambda: (conversations_of(v, k),))),
    "on_changed": n.LIST_CB(
        lambda v, k, t: _event(t, "on_changed", lambda: (conversations_of(v, k),))),
    "on_deleted": n.STRINGS_CB(
        lambda s, k, t: _event(t, "on_deleted", lambda: (_copy_strings(s, k),))),
    "on_total_unread_changed": n.COUNT_CB(
        lambda value, t: _event(t, "on_total_unread_changed", lambda: (int(value),))),
    "on_sync_server_start": n.EVENT_CB(lambda t: _event(t, "on_sync_server_start", tuple)),
    "on_sync_server_finish": n.EVENT_CB(lambda t: _event(t, "on_sync_server_finish", tuple)),
    "on_sync_server_failed": n.EVENT_CB(lambda t: _event(t, "on_sync_server_failed", tuple)),
    "on_conversation_group_deleted": n.GROUP_CB(
        lambda g, t: _event(t, "on_conversation_group_deleted", lambda: (_s(g),))),
    "on_conversation_group_name_changed": n.GROUP_RENAMED_CB(
        lambda old, new, t: _event(t, "on_conversation_group_name_changed",
                                   lambda: (_s(old), _s(new)))),
    "on_unread_count_changed_by_filter": n.FILTERED_UNREAD_CB(
        lambda sid, f, count, t: _event(t, "on_unread_count_changed_by_filter",
                                        lambda: (int(sid), _filter_of(f.contents), int(count)))),
    "on_store_error": n.STORE_ERROR_CB(
        lambda code, message, ids, k, t: _event(
            t, "on_store_error", lambda: (_code_of(code), _s(message), _copy_strings(ids, k)))),
}
for _name in ("on_conversation_group_created", "on_conversations_added_to_group",
              "on_conversations_deleted_from_group"):
    _thunks[_name] = n.GROUP_CONVERSATIONS_CB(
        lambda g, v, k, t, name=_name: _event(t, name, lambda: (_s(g), conversations_of(v, k))))


def listener_struct(instance: int, fns: ListenerFns) -> Tuple[n.CListener, int]:
    """The C listener for `fns`, and its token (kept until `drop_listener`)."""
    token = next(_tokens)
    with _lock:
        _listeners[token] = (instance, fns)
    listener = n.CListener()
    n.lib.imconv_listener_init(ctypes.byref(listener))
    for name in fns.fns:
        setattr(listener, name, _thunks[name])
    listener.user_data = token
    return listener, token


def drop_listener(token: int) -> None:
    with _lock:
        _listeners.pop(token, None)


def events_to(put: Callable[[Event], None]) -> ListenerFns:
    """A listener that hands every event to `put` as an `Event`."""
    def grouped(kind: str) -> Callable[[str, List[Conversation]], None]:
        return lambda g, cs: put(Event(kind, conversations=tuple(cs), group_name=g))
    return ListenerFns(
        on_new=lambda cs: put(Event("new", conversations=tuple(cs))),
        on_changed=lambda cs: put(Event("changed", conversations=tuple(cs))),
        on_deleted=lambda ids: put(Event("deleted", conversation_ids=tuple(ids))),
        on_total_unread_changed=lambda total: put(Event("total_unread", total=total)),
        on_sync_server_start=lambda: put(Event("sync_start")),
        on_sync_server_finish=lambda: put(Event("sync_finish")),
        on_sync_server_failed=lambda: put(Event("sync_failed")),
        on_conversation_group_created=grouped("group_created"),
        on_conversation_group_deleted=lambda g: put(Event("group_deleted", group_name=g)),
        on_conversation_group_name_changed=lambda old, new: put(
            Event("group_renamed", group_name=old, new_group_name=new)),
        on_conversations_added_to_group=grouped("added_to_group"),
        on_conversations_deleted_from_group=grouped("deleted_from_group"),
        on_unread_count_changed_by_filter=lambda sid, f, count: put(
            Event("unread_count", subscription_id=sid, filter=f, total=count)),
        on_store_error=lambda code, message, ids: put(
            Event("store_error", conversation_ids=tuple(ids), code=int(code), message=message)))


def id_array(ids: Sequence[str]) -> Tuple[Any, int]:
    """A C array of the IDs (kept alive by the caller for the call)."""
    encoded = [i.encode() for i in ids]
    return (ctypes.c_char_p * max(len(encoded), 1))(*encoded), len(encoded)
