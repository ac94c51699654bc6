"""Error codes and the exceptions that carry them.

Every failure raises an `ImconvError` subclass chosen by its code, so a
caller can catch one kind (`except imconv.InvalidParametersError`) or all
(`except imconv.ImconvError`); `.code` is always the `ErrorCode`.
"""
from enum import IntEnum
from typing import Dict, Type

from ._native import lib


class ErrorCode(IntEnum):
    """The IMCONV_ERR_* codes of `imconv.h` (Tencent's numbers where they exist)."""

    OK = 0
    INVALID_PARAMETERS = 6017
    DATABASE = 6019
    IO = 6022
    INVALID_JSON = 6027
    OUT_OF_MEMORY = 6028
    SHUTDOWN = 6901
    STORE_LOCKED = 6902
    WRONG_PROCESS = 6903
    QUEUE_FULL = 6904
    WOULD_DEADLOCK = 6905
    READ_ONLY = 6906
    TIMEOUT = 6907
    STORE_DAMAGED = 6908
    STORE_FAILED = 6909
    WRONG_KEY = 6910
    STORE_BUSY = 6911
    SUSPENDED = 6912
    INTERNAL = 6999


def error_text(code: int) -> str:
    """The library's static description of a code (`imconv_error_str`)."""
    text: bytes = lib.imconv_error_str(code)
    return text.decode()


class ImconvError(Exception):
    """A failure: `.code` is the `ErrorCode` (a plain int for a code this
    version does not know), `.message` the library's message naming the
    problem."""

    code: int
    message: str

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} ({int(code)}: {error_text(code)})")
        try:
            self.code = ErrorCode(code)
        except ValueError:
            self.code = code
        self.message = message


class InvalidParametersError(ImconvError, ValueError):
    """A bad argument: an invalid conversation ID, a value out of range, ..."""


class InvalidJsonError(ImconvError, ValueError):
    """Malformed JSON, or a value of the wrong JSON type."""


class StoreError(ImconvError, OSError):
    """The store or the file system failed (DATABASE, IO, OUT_OF_MEMORY)."""


class ShutdownError(ImconvError):
    """The instance is closed or closing: the call was refused or dropped."""


class StoreLockedError(ImconvError):
    """The store is already open in another instance (this or another process)."""


class WrongProcessError(ImconvError):
    """The instance was created in another process (used after fork())."""


class QueueFullError(ImconvError):
    """Too many calls are waiting: retry once earlier ones have completed."""


class WouldDeadlockError(ImconvError):
    """Waiting here would never end (for example a blocking call made from
    the instance's own callback thread)."""


class ReadOnlyError(ImconvError):
    """The store cannot be written (opened read-only, or a read-only file)."""


class TimeoutError_(ImconvError, TimeoutError):
    """`wait_freed` gave up: a freed instance's thread still runs."""


class StoreDamagedError(StoreError):
    """The store is damaged: the message names the conversation where it is
    known. Nothing decoded from damaged bytes is ever answered."""


class StoreFailedError(StoreError):
    """A write failed to reach the disk: it may or may not be stored, and
    the instance refuses every later write until it is closed and the store
    opened again. Reads go on working."""


class WrongKeyError(StoreError):
    """The store does not open with the `encryption_key` given (wrong,
    missing for an encrypted store, or given for a plain one). Its files
    were left exactly as they were. A lost key: `imconv.delete_store`, then
    sync again from the server."""


class StoreBusyError(StoreError):
    """A `shared` store's write lock stayed taken by another process past
    the busy bound (5 s): a process stopped or hung while writing. Nothing
    was done; retry later."""


class SuspendedError(ImconvError):
    """The instance is suspended (`suspend()`): call `resume()` first."""


class InternalError(ImconvError):
    """A panic inside the library was caught. Please report it."""


_BY_CODE: Dict[int, Type[ImconvError]] = {
    ErrorCode.INVALID_PARAMETERS: InvalidParametersError,
    ErrorCode.INVALID_JSON: InvalidJsonError,
    ErrorCode.DATABASE: StoreError,
    ErrorCode.IO: StoreError,
    ErrorCode.OUT_OF_MEMORY: StoreError,
    ErrorCode.SHUTDOWN: ShutdownError,
    ErrorCode.STORE_LOCKED: StoreLockedError,
    ErrorCode.WRONG_PROCESS: WrongProcessError,
    ErrorCode.QUEUE_FULL: QueueFullError,
    ErrorCode.WOULD_DEADLOCK: WouldDeadlockError,
    ErrorCode.READ_ONLY: ReadOnlyError,
    ErrorCode.TIMEOUT: TimeoutError_,
    ErrorCode.STORE_DAMAGED: StoreDamagedError,
    ErrorCode.STORE_FAILED: StoreFailedError,
    ErrorCode.WRONG_KEY: WrongKeyError,
    ErrorCode.STORE_BUSY: StoreBusyError,
    ErrorCode.SUSPENDED: SuspendedError,
    ErrorCode.INTERNAL: InternalError,
}


def error_for(code: int, message: str) -> ImconvError:
    """The exception of the class that matches `code`."""
    return _BY_CODE.get(code, ImconvError)(code, message)
