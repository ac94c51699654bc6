"""`Sdk`: every call of the library, each blocking until its answer."""
import os
import select
import threading
import time
from types import TracebackType
from typing import Any, Callable, Iterator, List, Optional, Sequence, Type, TypeVar, Union

from . import _calls
from ._instance import Complete, Instance, key_hex, park_if_exiting
from ._instance import delete_store as _delete_store
from .errors import ImconvError, WouldDeadlockError
from .conversation import Conversation
from .types import (ConversationsInput, Filter, MessagesInput, Page,
                    ProfilesInput, RecvOpt, SyncStage)

T = TypeVar("T")


class Sdk(Instance):
    """One user's conversation store; every method blocks until its answer.

    `Sdk(user_id, data_dir=None, **options)`: `data_dir` None keeps the
    store in memory; the options are those of `imconv_sdk_new`'s config
    (`durability`, `sync_interval_ms`, `cache_capacity`, `read_only`,
    `shared`, `delivery`, ...). With `shared=True` several instances, in
    this and other processes, use one store; `suspend()` and `resume()`
    let go of it while the process is suspended. With `delivery="host"` no callback runs on a library
    thread: a blocking call runs the callbacks on the calling thread while it
    waits, and `dispatch()` runs those of calls made elsewhere (listeners).

    A failure raises an `ImconvError` subclass. Closing (`close()`, leaving
    the `with` block, or interpreter exit) frees the instance. Callable
    from any thread; with thread delivery a blocking call made from inside
    one of this instance's callbacks would wait forever for itself, so it
    raises `WouldDeadlockError` instead.
    """

    def __enter__(self) -> "Sdk":
        return self

    def __exit__(self, kind: Optional[Type[BaseException]], value: Optional[BaseException],
                 trace: Optional[TracebackType]) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_handle", None) is not None:
            self.close()

    def _wait(self, start: Callable[[Complete], None]) -> Any:
        if self.host_delivery:
            return self._wait_dispatching(start)
        if _calls.delivering(self._key):
            raise WouldDeadlockError(
                6905, "a blocking call from inside this instance's own callback would wait "
                "for itself: make the call from another thread, or use the callback form")
        done = threading.Event()
        box: List[Any] = [None, None]

        def complete(value: Any, error: Optional[ImconvError]) -> None:
            box[0], box[1] = value, error
            done.set()

        start(complete)
        done.wait()
        if box[1] is not None:
            park_if_exiting(box[1])
            raise box[1]
        return box[0]

    def _wait_dispatching(self, start: Callable[[Complete], None]) -> Any:
        """Host delivery: this thread dispatches until its answer ran. A
        cached lookup's answer is often queued before the call returns, so
        it dispatches once before it polls."""
        box: List[Any] = [False, None, None]

        def complete(value: Any, error: Optional[ImconvError]) -> None:
            box[0], box[1], box[2] = True, value, error

        start(complete)
        self.dispatch()
        if not box[0]:
            fd = self.event_fd()
            while not box[0]:
                # Another thread may dispatch our answer: look again now and then.
                if fd >= 0:
                    select.select([fd], [], [], 0.05)
                else:  # closed meanwhile: the closing thread delivers it
                    time.sleep(0.001)
                self.dispatch()
        if box[2] is not None:
            park_if_exiting(box[2])
            raise box[2]
        return box[1]

    # ---- reads -----------------------------------------------------------------

    def get_conversation(self, conversation_id: str) -> Conversation:
        """One conversation (getConversation). A valid ID that is not stored
        gives a temporary conversation (`is_stored` False); an invalid one
        raises InvalidParametersError."""
        result: Conversation = self._wait(lambda c: self._get(c, conversation_id))
        return result

    def get_conversation_list(self, conversation_ids: Sequence[str]) -> List[Conversation]:
        """The stored conversations among the IDs, in request order, each
        once (getConversationList)."""
        result: List[Conversation] = self._wait(lambda c: self._list(c, conversation_ids))
        return result

    def get_conversation_page(self, filter: Optional[Filter] = None, cursor: str = "",
                              count: int = 100) -> Page:
        """One page of the ordered list (pinned first, then newest): pass
        `page.next_cursor` for the next one until `page.is_finished`.
        `count` is 1 to `MAX_PAGE` (1,000); any other is refused with
        InvalidParametersError."""
        result: Page = self._wait(lambda c: self._page(c, filter, cursor, count))
        return result

    def iter_conversations(self, filter: Optional[Filter] = None,
                           page_size: int = 100) -> Iterator[Conversation]:
        """Every conversation that passes `filter`, in list order, read
        `page_size` (1 to `MAX_PAGE`) at a time; InvalidParametersError for
        any other `page_size`, before anything is read."""
        cursor = ""
        while True:
            page = self.get_conversation_page(filter, cursor, page_size)
            yield from page.conversations
            if page.is_finished:
                return
            cursor = page.next_cursor

    def get_total_unread(self, filter: Optional[Filter] = None) -> int:
        """The unread total of the conversations that pass `filter`, muted
        ones (receive option 1, 2, 3) left out."""
        result: int = self._wait(lambda c: self._total(c, filter))
        return result

    def get_groups(self) -> List[str]:
        """The conversation groups' names, in creation order."""
        result: List[str] = self._wait(self._groups)
        return result

    def verify_store(self) -> List[str]:
        """Checks the whole store (imconv_verify_store: SQLite's integrity
        check, every row verified): the IDs of damaged conversations, each
        also told to listeners' `on_store_error`. Deleting, importing or
        syncing one repairs it."""
        result: List[str] = self._wait(self._verify)
        return result

    # ---- writes (each all or nothing, durable when it returns) ------------------------

    def import_conversations(self, conversations: ConversationsInput) -> None:
        """Imports conversations, each replacing the stored one whole: a JSON
        array, or a sequence of dicts with V2 field names or `Conversation`s."""
        self._wait(lambda c: self._json_write(c, "imconv_import_conversations", conversations))

    def sync_conversations(self, conversations: ConversationsInput) -> None:
        """Merges server updates: each element changes only the fields it names."""
        self._wait(lambda c: self._json_write(c, "imconv_sync_conversations", conversations))

    def sync_snapshot(self, conversations: ConversationsInput) -> None:
        """Syncs the server's whole list: merged as `sync_conversations`, and
        every stored conversation it does not name is deleted (one write)."""
        self._wait(lambda c: self._json_write(c, "imconv_sync_snapshot", conversations))

    def apply_messages(self, messages: MessagesInput) -> None:
        """Applies messages (new ones count as unread and move their
        conversation; redeliveries update in place): a JSON array, dicts or
        `NewMessage`s."""
        self._wait(lambda c: self._json_write(c, "imconv_apply_messages", messages))

    def update_profiles(self, profiles: ProfilesInput) -> None:
        """Sets names and avatars by user or group ID: a JSON array, dicts or
        `Profile`s."""
        self._wait(lambda c: self._json_write(c, "imconv_update_profiles", profiles))

    def clean_unread(self, conversation_id: str = "", clean_timestamp: int = 0,
                     clean_sequence: int = 0) -> None:
        """Clears unread counts: one conversation, "c2c", "group" or "" (all);
        everything (both 0) or up to a timestamp (one-to-one) or a sequence
        (groups)."""
        self._wait(lambda c: self._write(c, "imconv_clean_unread", conversation_id.encode(),
                                         clean_timestamp, clean_sequence))

    def mark_read(self, conversation_id: str, msg_id: str) -> None:
        """Marks a stored conversation read up to and including one of its
        messages (a read receipt), by the conversation's own message order;
        the read position never moves back, so naming an earlier message
        (one read and forgotten since included) changes nothing.
        InvalidParametersError for a msgID never applied to that
        conversation."""
        self._wait(lambda c: self._write(c, "imconv_mark_read", conversation_id.encode(),
                                         msg_id.encode()))

    def backup(self, path: "Union[str, os.PathLike[str]]") -> None:
        """Writes a consistent copy of the whole store to `path` while the
        instance goes on (imconv_backup): it holds exactly the writes
        accepted before this call, is written under a temporary name,
        synced and renamed into place (never a partial copy), owner-only,
        and opens as a store of its own. An error names the path and the step
        (`ImconvError` with IMCONV_ERR_IO or a `StoreError`); ReadOnlyError
        on a read-only instance."""
        self._wait(lambda c: self._write(c, "imconv_backup", os.fsencode(os.fspath(path))))

    def rekey(self, new_key: "Union[bytes, bytearray, str, None]") -> None:
        """Re-encrypts the store (imconv_rekey): `new_key` is 32 raw bytes
        or 64 hex digits; None decrypts it; a plain store is encrypted. It
        takes its place in the write order and the instance stays usable; a
        crash leaves a store that opens with exactly one of the two keys.
        InvalidParametersError for a malformed key (never echoed);
        ReadOnlyError on a read-only instance."""
        text = key_hex(new_key, "new_key")
        arg = text.encode() if text is not None else None
        self._wait(lambda c: self._write(c, "imconv_rekey", arg))

    def report_sync(self, stage: SyncStage) -> None:
        """Reports a stage of the host's sync with its server: the listeners'
        `on_sync_server_start`/`_finish`/`_failed` run, in order with the
        writes around it."""
        self._wait(lambda c: self._write(c, "imconv_report_sync", int(stage)))

    def set_draft(self, conversation_id: str, draft_text: Optional[str]) -> None:
        """Sets the draft (None or "" clears it)."""
        text = draft_text.encode() if draft_text is not None else None
        self._wait(lambda c: self._write(c, "imconv_set_draft", conversation_id.encode(), text))

    def pin_conversation(self, conversation_id: str, is_pinned: bool = True) -> None:
        """Pins (or unpins) a conversation; at most 50 are pinned."""
        self._wait(lambda c: self._write(c, "imconv_pin_conversation", conversation_id.encode(),
                                         is_pinned))

    def set_recv_opt(self, conversation_ids: Sequence[str], recv_opt: RecvOpt) -> None:
        """Sets the receive option of up to 100 conversations."""
        self._wait(lambda c: self._write_ids(c, "imconv_set_recv_opt", conversation_ids,
                                             int(recv_opt)))

    def set_custom_data(self, conversation_ids: Sequence[str], custom_data: str) -> None:
        """Sets the custom data (at most 256 bytes) of up to 100 conversations."""
        self._wait(lambda c: self._write_ids(c, "imconv_set_custom_data", conversation_ids,
                                             custom_data.encode()))

    def mark_conversations(self, conversation_ids: Sequence[str], mark: int,
                           enable: bool = True) -> None:
        """Sets (or clears) one mark (`Mark` bits, custom bits 32-63) on up
        to 100 conversations."""
        self._wait(lambda c: self._write_ids(c, "imconv_mark_conversations", conversation_ids,
                                             mark, enable))

    def delete_conversations(self, conversation_ids: Sequence[str]) -> None:
        """Deletes up to 100 conversations (unknown IDs are ignored)."""
        self._wait(lambda c: self._write_ids(c, "imconv_delete_conversations", conversation_ids))

    def create_group(self, group_name: str, conversation_ids: Sequence[str] = ()) -> None:
        """Creates a conversation group holding the conversations."""
        self._wait(lambda c: self._write_ids(c, "imconv_create_group", conversation_ids,
                                             before=[group_name.encode()]))

    def rename_group(self, old_name: str, new_name: str) -> None:
        """Renames a conversation group."""
        self._wait(lambda c: self._write(c, "imconv_rename_group", old_name.encode(),
                                         new_name.encode()))

    def delete_group(self, group_name: str) -> None:
        """Deletes a conversation group (its conversations stay)."""
        self._wait(lambda c: self._write(c, "imconv_delete_group", group_name.encode()))

    def add_to_group(self, group_name: str, conversation_ids: Sequence[str]) -> None:
        """Adds conversations to a group."""
        self._wait(lambda c: self._write_ids(c, "imconv_add_to_group", conversation_ids,
                                             before=[group_name.encode()]))

    def remove_from_group(self, group_name: str, conversation_ids: Sequence[str]) -> None:
        """Removes conversations from a group."""
        self._wait(lambda c: self._write_ids(c, "imconv_remove_from_group", conversation_ids,
                                             before=[group_name.encode()]))


__all__ = ["Sdk"]


def delete_store(user_id: str, data_dir: "Union[str, os.PathLike[str]]") -> None:
    """Removes one user's store whole (imconv_delete_store; blocking): for a
    lost encryption key (`WrongKeyError` at open), or a user who asks to be
    forgotten. StoreLockedError while any instance, in any process, has it
    open; nothing there is not an error."""
    _delete_store(user_id, data_dir)
