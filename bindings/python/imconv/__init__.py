"""Python bindings for imconv (ctypes over the C ABI).

    import imconv
    with imconv.Sdk("me", data_dir="/var/lib/app") as sdk:
        sdk.import_conversations('[{"conversationID":"c2c_alice","showName":"Alice"}]')
        alice = sdk.get_conversation("c2c_alice")
        print(alice.show_name, alice.unread_count)

- `Sdk` blocks until each answer arrives; `AsyncSdk` has the same methods
  as coroutines (for asyncio). Both are context managers; leaving frees the
  instance (every answer still owed is delivered first).
- Conversations are dataclasses with the C field names.
- A failure raises `ImconvError`, whose `.code` is the IMCONV_ERR_* value.
- The library's callbacks are a fixed set of ctypes functions kept for the
  life of the module, and each call's state lives in a table until its one
  callback has run: nothing the library may still call is ever collected.
  No wait holds the GIL: ctypes releases it around every C call, and the
  waits are on events.
"""
import asyncio
import ctypes
import itertools
import json as _json
import os
import threading
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

__all__ = ["Sdk", "AsyncSdk", "Conversation", "Message", "GroupAtInfo", "ImconvError", "version"]

_lib = ctypes.CDLL(os.path.join(os.path.dirname(os.path.abspath(__file__)), "libimconv.so"))

IMCONV_OK = 0


class ImconvError(Exception):
    """A failure: `.code` is the IMCONV_ERR_* value, the message names the problem."""

    def __init__(self, code: int, message: str):
        super().__init__(f"{message} ({code}: {_error_str(code)})")
        self.code = code
        self.message = message


# ---- the C types ----------------------------------------------------------

class _Message(ctypes.Structure):
    _fields_ = [("msg_id", ctypes.c_char_p), ("sender", ctypes.c_char_p),
                ("timestamp", ctypes.c_int64), ("seq", ctypes.c_uint64),
                ("status", ctypes.c_int32), ("is_self", ctypes.c_bool),
                ("is_read", ctypes.c_bool), ("json", ctypes.c_char_p)]


class _AtInfo(ctypes.Structure):
    _fields_ = [("seq", ctypes.c_uint64), ("at_type", ctypes.c_int32)]


class _Conversation(ctypes.Structure):
    _fields_ = [("conversation_id", ctypes.c_char_p), ("type", ctypes.c_int32),
                ("user_id", ctypes.c_char_p), ("group_id", ctypes.c_char_p),
                ("group_type", ctypes.c_char_p), ("show_name", ctypes.c_char_p),
                ("face_url", ctypes.c_char_p), ("unread_count", ctypes.c_uint64),
                ("recv_opt", ctypes.c_int32), ("last_message", ctypes.POINTER(_Message)),
                ("group_at_info_list", ctypes.POINTER(_AtInfo)),
                ("group_at_info_count", ctypes.c_size_t), ("draft_text", ctypes.c_char_p),
                ("draft_timestamp", ctypes.c_uint64), ("is_pinned", ctypes.c_bool),
                ("order_key", ctypes.c_uint64), ("mark_list", ctypes.POINTER(ctypes.c_uint64)),
                ("mark_count", ctypes.c_size_t), ("custom_data", ctypes.c_char_p),
                ("conversation_group_list", ctypes.POINTER(ctypes.c_char_p)),
                ("conversation_group_count", ctypes.c_size_t),
                ("c2c_read_timestamp", ctypes.c_uint64), ("group_read_sequence", ctypes.c_uint64),
                ("is_stored", ctypes.c_bool)]


_CONV_CB = ctypes.CFUNCTYPE(None, ctypes.POINTER(_Conversation), ctypes.c_void_p)
_LIST_CB = ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.POINTER(_Conversation)), ctypes.c_size_t,
                            ctypes.c_void_p)
_DONE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_ERROR_CB = ctypes.CFUNCTYPE(None, ctypes.c_int32, ctypes.c_char_p, ctypes.c_void_p)

_lib.imconv_version.restype = ctypes.c_char_p
_lib.imconv_error_str.restype = ctypes.c_char_p
_lib.imconv_error_str.argtypes = [ctypes.c_int32]
_lib.imconv_sdk_new.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p),
                                ctypes.POINTER(ctypes.c_void_p)]
_lib.imconv_sdk_free.argtypes = [ctypes.c_void_p]
_lib.imconv_string_free.argtypes = [ctypes.c_void_p]
_lib.imconv_get_conversation.argtypes = [ctypes.c_void_p, ctypes.c_char_p, _CONV_CB, _ERROR_CB,
                                         ctypes.c_void_p]
_lib.imconv_get_conversation_list.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p),
                                              ctypes.c_size_t, _LIST_CB, _ERROR_CB, ctypes.c_void_p]
for _name in ("imconv_import_conversations", "imconv_sync_conversations", "imconv_apply_messages"):
    getattr(_lib, _name).argtypes = [ctypes.c_void_p, ctypes.c_char_p, _DONE_CB, _ERROR_CB,
                                     ctypes.c_void_p]


def _error_str(code: int) -> str:
    return _lib.imconv_error_str(code).decode()


def version() -> str:
    """The library's version."""
    return _lib.imconv_version().decode()


# ---- values -----------------------------------------------------------------

@dataclass(frozen=True)
class Message:
    msg_id: str
    sender: str
    timestamp: int
    seq: int
    status: int
    is_self: bool
    is_read: bool
    json: str


@dataclass(frozen=True)
class GroupAtInfo:
    seq: int
    at_type: int


@dataclass(frozen=True)
class Conversation:
    """A conversation, copied out of the C view: the C field names."""
    conversation_id: str
    type: int
    user_id: str
    group_id: str
    group_type: str
    show_name: str
    face_url: str
    unread_count: int
    recv_opt: int
    last_message: Optional[Message]
    group_at_info_list: List[GroupAtInfo] = field(default_factory=list)
    draft_text: str = ""
    draft_timestamp: int = 0
    is_pinned: bool = False
    order_key: int = 0
    mark_list: List[int] = field(default_factory=list)
    custom_data: str = ""
    conversation_group_list: List[str] = field(default_factory=list)
    c2c_read_timestamp: int = 0
    group_read_sequence: int = 0
    is_stored: bool = False


def _s(b: Optional[bytes]) -> str:
    return b.decode() if b else ""


def _copy(c: _Conversation) -> Conversation:
    m = c.last_message.contents if c.last_message else None
    return Conversation(
        conversation_id=_s(c.conversation_id), type=c.type, user_id=_s(c.user_id),
        group_id=_s(c.group_id), group_type=_s(c.group_type), show_name=_s(c.show_name),
        face_url=_s(c.face_url), unread_count=c.unread_count, recv_opt=c.recv_opt,
        last_message=Message(_s(m.msg_id), _s(m.sender), m.timestamp, m.seq, m.status,
                             m.is_self, m.is_read, _s(m.json)) if m else None,
        group_at_info_list=[GroupAtInfo(c.group_at_info_list[i].seq, c.group_at_info_list[i].at_type)
                            for i in range(c.group_at_info_count)],
        draft_text=_s(c.draft_text), draft_timestamp=c.draft_timestamp, is_pinned=c.is_pinned,
        order_key=c.order_key, mark_list=[c.mark_list[i] for i in range(c.mark_count)],
        custom_data=_s(c.custom_data),
        conversation_group_list=[_s(c.conversation_group_list[i])
                                 for i in range(c.conversation_group_count)],
        c2c_read_timestamp=c.c2c_read_timestamp, group_read_sequence=c.group_read_sequence,
        is_stored=c.is_stored)


# ---- calls in flight --------------------------------------------------------

# Each accepted call's completion, by the integer passed as user_data; it
# stays here until its one callback has run.
_pending: Dict[int, "callable"] = {}
_pending_lock = threading.Lock()
_next_id = itertools.count(1)


def _register(complete) -> int:
    key = next(_next_id)
    with _pending_lock:
        _pending[key] = complete
    return key


def _take(user_data) -> "callable":
    with _pending_lock:
        return _pending.pop(user_data or 0)


def _forget(key: int) -> None:
    with _pending_lock:
        _pending.pop(key, None)


@_CONV_CB
def _on_conversation(conv, user_data):
    _take(user_data)(_copy(conv.contents), None)


@_LIST_CB
def _on_list(convs, count, user_data):
    _take(user_data)([_copy(convs[i].contents) for i in range(count)], None)


@_DONE_CB
def _on_done(user_data):
    _take(user_data)(None, None)


@_ERROR_CB
def _on_error(code, desc, user_data):
    _take(user_data)(None, ImconvError(code, _s(desc)))


# ---- instances --------------------------------------------------------------

def _config(user_id: str, data_dir: Optional[str], options: dict) -> bytes:
    config = {"user_id": user_id, **options}
    if data_dir is not None:
        config["data_dir"] = os.fspath(data_dir)
    return _json.dumps(config).encode()


class _Instance:
    """The C instance and the one way calls are made on it."""

    _handle = None  # until opened (a failed constructor leaves it None)

    def __init__(self, user_id: str, data_dir: Optional[str] = None, **options):
        handle = ctypes.c_void_p()
        error = ctypes.c_void_p()
        rc = _lib.imconv_sdk_new(_config(user_id, data_dir, options), ctypes.byref(handle),
                                 ctypes.byref(error))
        if rc != IMCONV_OK:
            message = ctypes.cast(error, ctypes.c_char_p).value.decode() if error.value else ""
            _lib.imconv_string_free(error)
            raise ImconvError(rc, message)
        self._handle = handle

    def _start(self, complete, call, *args) -> None:
        """Makes one call whose one callback runs `complete(value, error)`."""
        if self._handle is None:
            raise ImconvError(6901, "the instance was closed")
        key = _register(complete)
        rc = call(self._handle, *args, ctypes.c_void_p(key))
        if rc != IMCONV_OK:  # refused at once: no callback will come
            _forget(key)
            raise ImconvError(rc, _error_str(rc))

    def _get(self, complete, conversation_id: str):
        self._start(complete, _lib.imconv_get_conversation, conversation_id.encode(),
                    _on_conversation, _on_error)

    def _list(self, complete, conversation_ids: Sequence[str]):
        encoded = [i.encode() for i in conversation_ids]
        array = (ctypes.c_char_p * len(encoded))(*encoded)
        self._start(complete, _lib.imconv_get_conversation_list, array, len(encoded), _on_list,
                    _on_error)

    def _write(self, complete, name: str, json_array: str):
        self._start(complete, getattr(_lib, name), json_array.encode(), _on_done, _on_error)

    def close(self) -> None:
        """Frees the instance (ctypes releases the GIL meanwhile, so callbacks
        still owed can run)."""
        if self._handle is not None:
            handle, self._handle = self._handle, None
            _lib.imconv_sdk_free(handle)


class Sdk(_Instance):
    """One user's conversation store; every method blocks until its answer."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    @staticmethod
    def _wait(start):
        done = threading.Event()
        box = {}

        def complete(value, error):
            box["value"], box["error"] = value, error
            done.set()

        start(complete)
        done.wait()
        if box["error"] is not None:
            raise box["error"]
        return box["value"]

    def get_conversation(self, conversation_id: str) -> Conversation:
        return self._wait(lambda c: self._get(c, conversation_id))

    def get_conversation_list(self, conversation_ids: Sequence[str]) -> List[Conversation]:
        return self._wait(lambda c: self._list(c, conversation_ids))

    def import_conversations(self, json_array: str) -> None:
        self._wait(lambda c: self._write(c, "imconv_import_conversations", json_array))

    def sync_conversations(self, json_array: str) -> None:
        self._wait(lambda c: self._write(c, "imconv_sync_conversations", json_array))

    def apply_messages(self, json_array: str) -> None:
        self._wait(lambda c: self._write(c, "imconv_apply_messages", json_array))


class AsyncSdk(_Instance):
    """The same methods as coroutines: answers resolve futures on the loop
    that made the call."""

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    def __del__(self):
        self.close()

    @staticmethod
    async def _await(start):
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def resolve(value, error):
            if future.cancelled():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)

        def complete(value, error):
            loop.call_soon_threadsafe(resolve, value, error)

        start(complete)
        return await future

    async def get_conversation(self, conversation_id: str) -> Conversation:
        return await self._await(lambda c: self._get(c, conversation_id))

    async def get_conversation_list(self, conversation_ids: Sequence[str]) -> List[Conversation]:
        return await self._await(lambda c: self._list(c, conversation_ids))

    async def import_conversations(self, json_array: str) -> None:
        await self._await(lambda c: self._write(c, "imconv_import_conversations", json_array))

    async def sync_conversations(self, json_array: str) -> None:
        await self._await(lambda c: self._write(c, "imconv_sync_conversations", json_array))

    async def apply_messages(self, json_array: str) -> None:
        await self._await(lambda c: self._write(c, "imconv_apply_messages", json_array))
