"""Python bindings for imconv, the conversation engine of an IM client
(ctypes over its C ABI; the library ships inside the package).

    import imconv
    with imconv.Sdk("me", data_dir="/var/lib/app") as sdk:
        sdk.import_conversations([{"conversationID": "c2c_alice", "showName": "Alice"}])
        alice = sdk.get_conversation("c2c_alice")
        print(alice.show_name, alice.unread_count)

- `Sdk` blocks until each answer arrives; `AsyncSdk` has the same methods
  as coroutines, delivered on the running event loop, and `events()`.
- Every export of `imconv.h` is reached: lookups, pages, totals, groups,
  every write, listeners, host delivery (`dispatch`, `event_fd`), the log
  (`route_log_to_logging`), `version`, `wait_freed`.
- Values are frozen, with the C field names (`Conversation` reads the
  library's view lazily; the others are dataclasses); writes take JSON
  text or sequences of dicts / dataclasses (`NewMessage`, `Profile`,
  `Conversation`).
- A failure raises an `ImconvError` subclass; `.code` is an `ErrorCode`.
- Instances still open at interpreter exit are closed before the
  interpreter finalizes.
"""
from ._calls import set_callback_error_handler
from ._instance import MAX_PAGE, Subscription, version, wait_freed
from .aio import AsyncSdk, EventStream
from .errors import (ErrorCode, ImconvError, InternalError, InvalidJsonError,
                     InvalidParametersError, QueueFullError, ReadOnlyError, ShutdownError,
                     StoreBusyError, StoreDamagedError, StoreError, StoreFailedError,
                     StoreLockedError, SuspendedError, TimeoutError_, WouldDeadlockError,
                     WrongKeyError, WrongProcessError, error_text)
from .log import disable_log, route_log_to_logging
from .sdk import Sdk, delete_store
from .conversation import Conversation
from .types import (AtType, ConversationType, Event, Filter, GroupAtInfo, LogLevel,
                    Mark, Message, NewMessage, Page, Profile, RecvOpt, SyncStage)

__all__ = [
    "Sdk", "AsyncSdk", "EventStream", "Subscription",
    "Conversation", "Message", "GroupAtInfo", "NewMessage", "Profile", "Filter", "Page", "Event",
    "ConversationType", "RecvOpt", "AtType", "Mark", "LogLevel", "SyncStage",
    "ErrorCode", "ImconvError", "InvalidParametersError", "InvalidJsonError", "StoreError",
    "StoreDamagedError", "StoreFailedError", "WrongKeyError", "delete_store",
    "StoreBusyError", "SuspendedError",
    "ShutdownError", "StoreLockedError", "WrongProcessError", "QueueFullError",
    "WouldDeadlockError", "ReadOnlyError", "TimeoutError_", "InternalError", "error_text",
    "route_log_to_logging", "disable_log", "set_callback_error_handler",
    "version", "wait_freed", "MAX_PAGE",
]
