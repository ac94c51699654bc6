"""The C instance and the one way calls are started on it.

`Instance` owns the `imconv_sdk *`: each method starts one C call whose
one callback runs `complete(value, error)`; `Sdk` waits for it, `AsyncSdk`
awaits it. Every instance still open at interpreter exit is closed by an
`atexit` handler, before the interpreter starts to finalize: no callback
runs into a finalizing interpreter (which would end the thread running it).
"""
import atexit
import ctypes
import json as _json
import os
import threading
import weakref
from typing import Any, Callable, List, Optional, Sequence, Union

from . import _calls
from . import _native as n
from .errors import ErrorCode, ShutdownError, error_for, error_text
from .log import disable_log
from .conversation import Conversation
from .types import Filter, json_array

#: Most conversations in one page (the header's IMCONV_MAX_PAGE): a page's
#: count (`page_size`) must be 1 to this.
MAX_PAGE = 1000

Complete = _calls.Complete
GroupCallback = Callable[[str, List[Conversation]], None]
_open: "weakref.WeakSet[Instance]" = weakref.WeakSet()


#: Set when the exit handler starts: the interpreter is ending.
_exiting = False


def park_if_exiting(error: BaseException) -> None:
    """A daemon thread whose call failed with ShutdownError because the
    interpreter is ending waits here for the end instead of raising: it
    could do nothing more, and its traceback would only be noise on stderr
    (the interpreter stops daemon threads when it finalizes)."""
    if (_exiting and isinstance(error, ShutdownError)
            and threading.current_thread().daemon):
        threading.Event().wait()


def _close_all_at_exit() -> None:
    global _exiting
    _exiting = True
    for instance in list(_open):
        instance.close()
    disable_log()


atexit.register(_close_all_at_exit)


def key_hex(key: "Union[bytes, bytearray, str, None]", what: str) -> Optional[str]:
    """An encryption key as the library takes it: 32 raw bytes (as a
    keystore hands them out) become 64 hex digits; a str is passed as it is
    (the library checks it); None stays None."""
    if key is None or isinstance(key, str):
        return key
    if isinstance(key, (bytes, bytearray)):
        if len(key) != 32:
            raise error_for(int(ErrorCode.INVALID_PARAMETERS),
                            f"{what} must be 32 bytes (a raw 256-bit key), not {len(key)}")
        return bytes(key).hex()
    raise error_for(int(ErrorCode.INVALID_PARAMETERS),
                    f"{what} must be bytes, a hex str or None, not {type(key).__name__}")


def _config(user_id: str, data_dir: "Optional[Union[str, os.PathLike[str]]]", options: Any) -> bytes:
    config = {"user_id": user_id, **options}
    if data_dir is not None:
        config["data_dir"] = os.fspath(data_dir)
    if "encryption_key" in config:
        config["encryption_key"] = key_hex(config["encryption_key"], "encryption_key")
    return _json.dumps(config).encode()


def delete_store(user_id: str, data_dir: "Union[str, os.PathLike[str]]") -> None:
    """See `imconv.delete_store`."""
    error = ctypes.c_void_p()
    rc = n.lib.imconv_delete_store(_config(user_id, data_dir, {}), ctypes.byref(error))
    _raise_out_error(rc, error)


def _raise_out_error(rc: int, error: ctypes.c_void_p) -> None:
    """Raises the exception for `rc`, with the out-error's message (freed
    here) when the C call gave one; nothing for IMCONV_OK."""
    if rc != 0:
        text = ctypes.cast(error, ctypes.c_char_p).value if error.value else None
        n.lib.imconv_string_free(error)
        raise error_for(rc, text.decode() if text else error_text(rc))


def c_filter(f: Optional[Filter]) -> Any:
    """The C filter for `f` (None: NULL, covers all)."""
    if f is None:
        return None
    c = n.CListFilter()
    n.lib.imconv_list_filter_init(ctypes.byref(c))
    c.type, c.mark, c.has_unread, c.has_at = int(f.type), f.mark, f.has_unread, f.has_at
    c.group = f.group.encode() if f.group is not None else None
    return ctypes.byref(c)


class Instance:
    """One `imconv_sdk`; see `Sdk` for the options."""

    def __init__(self, user_id: str, data_dir: "Optional[Union[str, os.PathLike[str]]]" = None,
                 **options: Any) -> None:
        self._handle: Optional[int] = None
        self._guard = threading.Condition()
        self._busy = 0  # threads inside dispatch(): free waits for them
        self._closing = False  # close() waits for them: wake it
        handle = ctypes.c_void_p()
        error = ctypes.c_void_p()
        rc = n.lib.imconv_sdk_new(_config(user_id, data_dir, options), ctypes.byref(handle),
                                  ctypes.byref(error))
        _raise_out_error(rc, error)
        self._handle = handle.value
        self._key = id(self)
        self.host_delivery = options.get("delivery") == "host"
        _open.add(self)

    @property
    def closed(self) -> bool:
        """True once `close` ran."""
        return self._handle is None

    def suspend(self) -> None:
        """Lets go of every file and lock of the store (imconv_suspend;
        blocking): the writes accepted before finish first. Until `resume()`
        every call raises `SuspendedError`. For an app the system suspends
        while other processes use the store (`shared=True`)."""
        self._blocking("imconv_suspend")

    def resume(self) -> None:
        """Opens the store again and catches up with what other processes
        wrote meanwhile (imconv_resume; blocking): listeners hear of it.
        On failure (`StoreLockedError`, ...) the instance stays suspended."""
        self._blocking("imconv_resume")

    def _blocking(self, function: str) -> None:
        error = ctypes.c_void_p()
        with self._guard:
            handle = self._handle
            rc = (getattr(n.lib, function)(handle, ctypes.byref(error)) if handle is not None
                  else int(ErrorCode.SHUTDOWN))
        _raise_out_error(rc, error)

    def _start(self, complete: Complete, call: Callable[..., int], *args: Any) -> None:
        token = _calls.register(self._key, complete)
        with self._guard:  # close() cannot free the instance under a call
            handle = self._handle
            rc = call(handle, *args, token) if handle is not None else int(ErrorCode.SHUTDOWN)
        if rc != 0:  # refused at once: no callback will come
            _calls.forget(token)
            error = error_for(rc, "the instance was closed" if handle is None else error_text(rc))
            park_if_exiting(error)
            raise error

    # ---- each call, started ---------------------------------------------------

    def _get(self, complete: Complete, conversation_id: str) -> None:
        self._start(complete, n.lib.imconv_get_conversation, conversation_id.encode(),
                    _calls.on_conversation, _calls.on_error)

    def _list(self, complete: Complete, ids: Sequence[str]) -> None:
        array, count = _calls.id_array(ids)
        self._start(complete, n.lib.imconv_get_conversation_list, array, count, _calls.on_list,
                    _calls.on_error)

    def _page(self, complete: Complete, f: Optional[Filter], cursor: str, count: int) -> None:
        # The library's one page-size rule, checked before ctypes would
        # wrap a negative count into a huge size_t.
        if not 1 <= count <= MAX_PAGE:
            raise error_for(int(ErrorCode.INVALID_PARAMETERS),
                            f"count must be 1 to {MAX_PAGE} conversations a page (got {count})")
        self._start(complete, n.lib.imconv_get_conversation_page, c_filter(f), cursor.encode(),
                    count, _calls.on_page, _calls.on_error)

    def _total(self, complete: Complete, f: Optional[Filter]) -> None:
        self._start(complete, n.lib.imconv_get_total_unread, c_filter(f), _calls.on_count,
                    _calls.on_error)

    def _groups(self, complete: Complete) -> None:
        self._start(complete, n.lib.imconv_get_groups, _calls.on_strings, _calls.on_error)

    def _verify(self, complete: Complete) -> None:
        self._start(complete, n.lib.imconv_verify_store, _calls.on_strings, _calls.on_error)

    def _write(self, complete: Complete, function: str, *args: Any) -> None:
        self._start(complete, getattr(n.lib, function), *args, _calls.on_done, _calls.on_error)

    def _write_ids(self, complete: Complete, function: str, ids: Sequence[str],
                   *rest: Any, before: Sequence[Any] = ()) -> None:
        array, count = _calls.id_array(ids)
        self._write(complete, function, *before, array, count, *rest)

    def _json_write(self, complete: Complete, function: str, items: Any) -> None:
        self._write(complete, function, json_array(items))

    # ---- listeners and host delivery -------------------------------------------

    def _add_listener(self, fns: _calls.ListenerFns) -> "Subscription":
        listener, token = _calls.listener_struct(self._key, fns)
        listener_id = ctypes.c_uint64()
        with self._guard:
            handle = self._handle
            rc = (n.lib.imconv_add_listener(handle, ctypes.byref(listener),
                                            ctypes.byref(listener_id))
                  if handle is not None else int(ErrorCode.SHUTDOWN))
        if rc != 0:
            _calls.drop_listener(token)
            raise error_for(rc, "the instance was closed" if handle is None else error_text(rc))
        return Subscription(self, listener_id.value, token)

    def add_listener(
            self, on_new: Optional[Callable[[List[Conversation]], None]] = None,
            on_changed: Optional[Callable[[List[Conversation]], None]] = None,
            on_deleted: Optional[Callable[[List[str]], None]] = None,
            on_total_unread_changed: Optional[Callable[[int], None]] = None, *,
            on_sync_server_start: Optional[Callable[[], None]] = None,
            on_sync_server_finish: Optional[Callable[[], None]] = None,
            on_sync_server_failed: Optional[Callable[[], None]] = None,
            on_conversation_group_created: Optional[GroupCallback] = None,
            on_conversation_group_deleted: Optional[Callable[[str], None]] = None,
            on_conversation_group_name_changed: Optional[Callable[[str, str], None]] = None,
            on_conversations_added_to_group: Optional[GroupCallback] = None,
            on_conversations_deleted_from_group: Optional[GroupCallback] = None,
            on_unread_count_changed_by_filter: Optional[Callable[[int, Filter, int], None]] = None,
            on_store_error: Optional[Callable[[int, str, List[str]], None]] = None
    ) -> "Subscription":
        """Registers callbacks for the events of every later write (on the
        callback thread; with host delivery, on the thread that dispatches,
        the event loop's for `AsyncSdk`); returns the subscription, which
        removes them (`remove()`, or a `with` block). The members are the C
        listener's: the list's four; the sync stages `report_sync` raises;
        the five group events (a group name, and the conversations for
        created, added and deleted-from); a subscribed filter's new unread
        count (`subscribe_unread_count`: its ID, its filter, the count); a
        problem of the store, told once (`on_store_error`: the ErrorCode,
        STORE_DAMAGED or STORE_FAILED, a message, the damaged
        conversations' IDs)."""
        return self._add_listener(_calls.ListenerFns(
            on_new=on_new, on_changed=on_changed, on_deleted=on_deleted,
            on_total_unread_changed=on_total_unread_changed,
            on_sync_server_start=on_sync_server_start,
            on_sync_server_finish=on_sync_server_finish,
            on_sync_server_failed=on_sync_server_failed,
            on_conversation_group_created=on_conversation_group_created,
            on_conversation_group_deleted=on_conversation_group_deleted,
            on_conversation_group_name_changed=on_conversation_group_name_changed,
            on_conversations_added_to_group=on_conversations_added_to_group,
            on_conversations_deleted_from_group=on_conversations_deleted_from_group,
            on_unread_count_changed_by_filter=on_unread_count_changed_by_filter,
            on_store_error=on_store_error))

    def subscribe_unread_count(self, filter: Optional[Filter] = None) -> int:
        """Subscribes to the unread count of the conversations that pass
        `filter` (None: all): every later write that changes it raises the
        listeners' `on_unread_count_changed_by_filter`. Returns the
        subscription's ID (for `unsubscribe_unread_count`)."""
        out = ctypes.c_uint64()
        with self._guard:
            handle = self._handle
            rc = (n.lib.imconv_subscribe_unread_count(handle, c_filter(filter), ctypes.byref(out))
                  if handle is not None else int(ErrorCode.SHUTDOWN))
        if rc != 0:
            raise error_for(rc, "the instance was closed" if handle is None else error_text(rc))
        return out.value

    def unsubscribe_unread_count(self, subscription_id: int) -> None:
        """Ends a subscription; raises InvalidParametersError for an ID that
        is not subscribed."""
        with self._guard:
            handle = self._handle
            rc = (n.lib.imconv_unsubscribe_unread_count(handle, subscription_id)
                  if handle is not None else int(ErrorCode.SHUTDOWN))
        if rc != 0:
            raise error_for(rc, f"no unread subscription {subscription_id}"
                            if handle is not None else "the instance was closed")

    def dispatch(self, max_callbacks: int = 0) -> int:
        """Host delivery: runs up to `max_callbacks` waiting callbacks (0: all
        waiting now) on this thread and returns how many ran. Thread
        delivery: returns 0."""
        guard = self._guard
        with guard:
            handle = self._handle
            if handle is None:
                return 0
            self._busy += 1
        try:
            ran: int = n.lib.imconv_dispatch(handle, max_callbacks)
            return ran
        finally:
            with guard:
                self._busy -= 1
                if self._closing:
                    guard.notify_all()

    def event_fd(self) -> int:
        """Host delivery: a descriptor readable while callbacks wait (poll it,
        then `dispatch()`); -1 with thread delivery or once closed."""
        with self._guard:
            return n.lib.imconv_event_fd(self._handle) if self._handle is not None else -1

    def close(self) -> None:
        """Frees the instance: writes still queued fail with ShutdownError,
        reads already accepted are answered, every callback still owed runs
        (with host delivery, on this thread), then every library thread is
        joined. Closing twice does nothing. The GIL is released meanwhile."""
        with self._guard:
            handle, self._handle = self._handle, None
            # Another thread inside dispatch() still uses the handle.
            self._closing = True
            while self._busy and not _calls.delivering(self._key):
                self._guard.wait()
        if handle is not None:
            _open.discard(self)
            n.lib.imconv_sdk_free(handle)


class Subscription:
    """A registered listener; `remove()` (or leaving its `with` block)
    unregisters it: after that none of its callbacks runs any more."""

    def __init__(self, instance: Instance, listener_id: int, token: int) -> None:
        self._instance: Optional[Instance] = instance
        self._listener_id = listener_id
        self._token = token

    def remove(self) -> None:
        """Unregisters the listener (once; later calls do nothing)."""
        instance, self._instance = self._instance, None
        if instance is None:
            return
        with instance._guard:
            handle = instance._handle
            rc = (n.lib.imconv_remove_listener(handle, self._listener_id)
                  if handle is not None else 0)
        if rc != int(ErrorCode.WOULD_DEADLOCK):
            _calls.drop_listener(self._token)  # else its running callback still needs it
        if rc not in (0, int(ErrorCode.WOULD_DEADLOCK), int(ErrorCode.SHUTDOWN)):
            raise error_for(rc, error_text(rc))

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def wait_freed(timeout_ms: int) -> None:
    """Waits until every instance closed from inside one of its own
    callbacks has finished its teardown (at most `timeout_ms`); raises
    TimeoutError_ when one still runs."""
    rc = n.lib.imconv_wait_freed(timeout_ms)
    if rc != 0:
        raise error_for(rc, error_text(rc))


def version() -> str:
    """The library's version ("0.3.0")."""
    text: bytes = n.lib.imconv_version()
    return text.decode()


__all__ = ["Instance", "Subscription", "wait_freed", "version", "ShutdownError"]
