"""The library's log, routed to Python's `logging` (logger "imconv").

One log per process: `route_log_to_logging(LogLevel.INFO)` sends every
message of that level and more severe ones to the "imconv" logger, with
the matching Python level; `disable_log()` turns it off. The library may
log from any of its threads; records arrive from them.
"""
import logging
from typing import Any, Optional

from . import _native as n
from ._calls import report
from .errors import error_for
from .types import LogLevel

_PYTHON_LEVEL = {LogLevel.ERROR: logging.ERROR, LogLevel.WARN: logging.WARNING,
                 LogLevel.INFO: logging.INFO, LogLevel.DEBUG: logging.DEBUG}
_logger = logging.getLogger("imconv")


def _on_log_py(level: int, message: Optional[bytes], _user_data: Optional[int]) -> None:
    try:
        _logger.log(_PYTHON_LEVEL.get(LogLevel(level), logging.INFO),
                    message.decode() if message else "")
    except BaseException as e:
        report(e)


_on_log: Any = n.LOG_CB(_on_log_py)


def route_log_to_logging(level: LogLevel = LogLevel.INFO) -> None:
    """Sends the library's messages of `level` and more severe ones to the
    "imconv" logger."""
    rc = n.lib.imconv_set_log_callback(int(level), _on_log, None)
    if rc != 0:
        raise error_for(rc, f"imconv_set_log_callback: level {int(level)} is not 1 to 4")


def disable_log() -> None:
    """Turns the library's log off (its messages are dropped)."""
    n.lib.imconv_set_log_callback(int(LogLevel.ERROR), n.LOG_CB(), None)
