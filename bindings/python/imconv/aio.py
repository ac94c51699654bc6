"""`AsyncSdk`: every call as a coroutine, delivered on the event loop.

An `AsyncSdk` uses host delivery driven by the running loop: the loop
watches the instance's event descriptor (`loop.add_reader`) and runs the
library's callbacks on its own thread, so futures resolve there and
listener callbacks run there too: no thread hop, and nothing is ever
scheduled onto a closed loop (an answer that arrives once the loop is
closed is dropped with its future).

Cancelling an awaiting coroutine does not cancel the call: a write whose
coroutine was cancelled still commits (or fails) as a whole; only its
answer is dropped.
"""
import asyncio
import collections
import os
import weakref
from types import TracebackType
from typing import (Any, AsyncIterator, Callable, Deque, List, Optional, Sequence, Type,
                    Union)

from . import _calls
from ._instance import Complete, Instance, Subscription, key_hex
from .errors import ImconvError
from .conversation import Conversation
from .types import (ConversationsInput, Event, Filter, MessagesInput, Page,
                    ProfilesInput, RecvOpt, SyncStage)


class AsyncSdk(Instance):
    """One user's conversation store for asyncio: the methods of `Sdk` as
    coroutines (same arguments, same errors), plus `events()`.

    Create it anywhere; it attaches to the loop running its first call.
    Close it with `async with`, `await aclose()` or `close()`; one still
    open at interpreter exit is closed then.
    """

    def __init__(self, user_id: str, data_dir: Any = None, **options: Any) -> None:
        if options.get("delivery", "host") != "host":
            raise ValueError("AsyncSdk delivers on its event loop: delivery must be \"host\"")
        options["delivery"] = "host"
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._fd = -1
        self._streams: "weakref.WeakSet[EventStream]" = weakref.WeakSet()
        super().__init__(user_id, data_dir, **options)

    async def __aenter__(self) -> "AsyncSdk":
        return self

    async def __aexit__(self, kind: Optional[Type[BaseException]],
                        value: Optional[BaseException],
                        trace: Optional[TracebackType]) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_handle", None) is not None:
            self.close()

    async def aclose(self) -> None:
        """Closes the instance (see `close`)."""
        self.close()

    def close(self) -> None:
        """Frees the instance; the answers still owed are delivered here,
        resolving their futures (dropped when the loop is already closed)."""
        loop = self._loop
        self._detach()
        super().close()
        streams, self._streams = list(self._streams), weakref.WeakSet()
        for stream in streams:
            stream._end(loop)
        _reap()

    def _attach(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._detach()
            fd = self.event_fd()
            if fd >= 0:
                loop.add_reader(fd, self.dispatch)
                self._loop, self._fd = loop, fd
        return loop

    def _detach(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed():
            loop.remove_reader(self._fd)

    async def _await(self, start: Callable[[Complete], None]) -> Any:
        _reap()
        loop = self._attach()
        future = loop.create_future()

        def complete(value: Any, error: Optional[ImconvError]) -> None:
            # Runs on the loop's thread (host delivery), or in close() at exit.
            if future.done() or loop.is_closed():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)

        start(complete)
        # A cached lookup's answer is often queued before the call returns:
        # run it now, on this (the loop's) thread, and skip a loop turn.
        self.dispatch()
        return await future

    # ---- reads -----------------------------------------------------------------

    async def get_conversation(self, conversation_id: str) -> Conversation:
        """See `Sdk.get_conversation`."""
        result: Conversation = await self._await(lambda c: self._get(c, conversation_id))
        return result

    async def get_conversation_list(self, conversation_ids: Sequence[str]) -> List[Conversation]:
        """See `Sdk.get_conversation_list`."""
        result: List[Conversation] = await self._await(lambda c: self._list(c, conversation_ids))
        return result

    async def get_conversation_page(self, filter: Optional[Filter] = None, cursor: str = "",
                                    count: int = 100) -> Page:
        """See `Sdk.get_conversation_page`."""
        result: Page = await self._await(lambda c: self._page(c, filter, cursor, count))
        return result

    async def iter_conversations(self, filter: Optional[Filter] = None,
                                 page_size: int = 100) -> AsyncIterator[Conversation]:
        """Every conversation that passes `filter`, in list order (`async for`),
        read `page_size` (1 to `MAX_PAGE`) at a time; InvalidParametersError
        for any other `page_size`."""
        cursor = ""
        while True:
            page = await self.get_conversation_page(filter, cursor, page_size)
            for conversation in page.conversations:
                yield conversation
            if page.is_finished:
                return
            cursor = page.next_cursor

    async def get_total_unread(self, filter: Optional[Filter] = None) -> int:
        """See `Sdk.get_total_unread`."""
        result: int = await self._await(lambda c: self._total(c, filter))
        return result

    async def get_groups(self) -> List[str]:
        """See `Sdk.get_groups`."""
        result: List[str] = await self._await(self._groups)
        return result

    async def verify_store(self) -> List[str]:
        """See `Sdk.verify_store`."""
        result: List[str] = await self._await(self._verify)
        return result

    # ---- writes ----------------------------------------------------------------

    async def import_conversations(self, conversations: ConversationsInput) -> None:
        """See `Sdk.import_conversations`."""
        await self._await(lambda c: self._json_write(c, "imconv_import_conversations",
                                                     conversations))

    async def sync_conversations(self, conversations: ConversationsInput) -> None:
        """See `Sdk.sync_conversations`."""
        await self._await(lambda c: self._json_write(c, "imconv_sync_conversations",
                                                     conversations))

    async def sync_snapshot(self, conversations: ConversationsInput) -> None:
        """See `Sdk.sync_snapshot`."""
        await self._await(lambda c: self._json_write(c, "imconv_sync_snapshot", conversations))

    async def apply_messages(self, messages: MessagesInput) -> None:
        """See `Sdk.apply_messages`."""
        await self._await(lambda c: self._json_write(c, "imconv_apply_messages", messages))

    async def update_profiles(self, profiles: ProfilesInput) -> None:
        """See `Sdk.update_profiles`."""
        await self._await(lambda c: self._json_write(c, "imconv_update_profiles", profiles))

    async def clean_unread(self, conversation_id: str = "", clean_timestamp: int = 0,
                           clean_sequence: int = 0) -> None:
        """See `Sdk.clean_unread`."""
        await self._await(lambda c: self._write(c, "imconv_clean_unread",
                                                conversation_id.encode(), clean_timestamp,
                                                clean_sequence))

    async def mark_read(self, conversation_id: str, msg_id: str) -> None:
        """See `Sdk.mark_read`."""
        await self._await(lambda c: self._write(c, "imconv_mark_read", conversation_id.encode(),
                                                msg_id.encode()))

    async def backup(self, path: "Union[str, os.PathLike[str]]") -> None:
        """See `Sdk.backup`."""
        await self._await(lambda c: self._write(c, "imconv_backup",
                                                os.fsencode(os.fspath(path))))

    async def rekey(self, new_key: "Union[bytes, bytearray, str, None]") -> None:
        """See `Sdk.rekey`."""
        text = key_hex(new_key, "new_key")
        arg = text.encode() if text is not None else None
        await self._await(lambda c: self._write(c, "imconv_rekey", arg))

    async def report_sync(self, stage: SyncStage) -> None:
        """See `Sdk.report_sync`."""
        await self._await(lambda c: self._write(c, "imconv_report_sync", int(stage)))

    async def set_draft(self, conversation_id: str, draft_text: Optional[str]) -> None:
        """See `Sdk.set_draft`."""
        text = draft_text.encode() if draft_text is not None else None
        await self._await(lambda c: self._write(c, "imconv_set_draft", conversation_id.encode(),
                                                text))

    async def pin_conversation(self, conversation_id: str, is_pinned: bool = True) -> None:
        """See `Sdk.pin_conversation`."""
        await self._await(lambda c: self._write(c, "imconv_pin_conversation",
                                                conversation_id.encode(), is_pinned))

    async def set_recv_opt(self, conversation_ids: Sequence[str], recv_opt: RecvOpt) -> None:
        """See `Sdk.set_recv_opt`."""
        await self._await(lambda c: self._write_ids(c, "imconv_set_recv_opt", conversation_ids,
                                                    int(recv_opt)))

    async def set_custom_data(self, conversation_ids: Sequence[str], custom_data: str) -> None:
        """See `Sdk.set_custom_data`."""
        await self._await(lambda c: self._write_ids(c, "imconv_set_custom_data",
                                                    conversation_ids, custom_data.encode()))

    async def mark_conversations(self, conversation_ids: Sequence[str], mark: int,
                                 enable: bool = True) -> None:
        """See `Sdk.mark_conversations`."""
        await self._await(lambda c: self._write_ids(c, "imconv_mark_conversations",
                                                    conversation_ids, mark, enable))

    async def delete_conversations(self, conversation_ids: Sequence[str]) -> None:
        """See `Sdk.delete_conversations`."""
        await self._await(lambda c: self._write_ids(c, "imconv_delete_conversations",
                                                    conversation_ids))

    async def create_group(self, group_name: str, conversation_ids: Sequence[str] = ()) -> None:
        """See `Sdk.create_group`."""
        await self._await(lambda c: self._write_ids(c, "imconv_create_group", conversation_ids,
                                                    before=[group_name.encode()]))

    async def rename_group(self, old_name: str, new_name: str) -> None:
        """See `Sdk.rename_group`."""
        await self._await(lambda c: self._write(c, "imconv_rename_group", old_name.encode(),
                                                new_name.encode()))

    async def delete_group(self, group_name: str) -> None:
        """See `Sdk.delete_group`."""
        await self._await(lambda c: self._write(c, "imconv_delete_group", group_name.encode()))

    async def add_to_group(self, group_name: str, conversation_ids: Sequence[str]) -> None:
        """See `Sdk.add_to_group`."""
        await self._await(lambda c: self._write_ids(c, "imconv_add_to_group", conversation_ids,
                                                    before=[group_name.encode()]))

    async def remove_from_group(self, group_name: str, conversation_ids: Sequence[str]) -> None:
        """See `Sdk.remove_from_group`."""
        await self._await(lambda c: self._write_ids(c, "imconv_remove_from_group",
                                                    conversation_ids,
                                                    before=[group_name.encode()]))


    def events(self, max_queued: int = 10_000) -> "EventStream":
        """The events of every later write as an async iterator:
        `async with sdk.events() as events: async for event in events: ...`
        (an `Event` each). It ends when the instance closes, when it is
        closed (`aclose()`, leaving its `async with` block), when the task
        reading it is cancelled while it waits, and when it is garbage
        collected (a `break` out of `async for event in sdk.events()`, or
        the reading task returning): its listener goes with it.

        At most `max_queued` events wait unread: when a reader falls behind
        further, the oldest are dropped and the next event it reads is an
        `Event("gap", total=N)` saying that N events were dropped there
        (then re-read what it shows: the list, the totals)."""
        return EventStream(self, max_queued)


class EventStream:
    """The listener events of one `AsyncSdk`, in commit order (see
    `AsyncSdk.events`)."""

    def __init__(self, sdk: AsyncSdk, max_queued: int = 10_000) -> None:
        if max_queued < 1:
            raise ValueError(f"max_queued must be at least 1 (got {max_queued})")
        self._sdk = sdk
        self._events: Deque[Event] = collections.deque()
        self._max = max_queued
        self._dropped = 0
        self._ended = False
        self._waiter: "Optional[asyncio.Future[None]]" = None
        # The listener holds the stream weakly: a stream nobody reads any
        # more is collected, and its listener removed (see __del__).
        ref = weakref.ref(self)

        def put(event: Event) -> None:
            stream = ref()
            if stream is not None:
                stream._put(event)

        self._subscription: Optional[Subscription] = sdk._add_listener(_calls.events_to(put))
        sdk._streams.add(self)

    def _put(self, event: Event) -> None:
        if self._ended:
            return
        if len(self._events) >= self._max:
            self._events.popleft()
            self._dropped += 1
        self._events.append(event)
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> "EventStream":
        return self

    async def __aenter__(self) -> "EventStream":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def __anext__(self) -> Event:
        while True:
            if self._dropped:
                dropped, self._dropped = self._dropped, 0
                return Event("gap", total=dropped)
            if self._events:
                return self._events.popleft()
            if self._ended:
                raise StopAsyncIteration
            loop = self._sdk._attach()
            self._waiter = loop.create_future()
            try:
                await self._waiter
            except asyncio.CancelledError:
                # The reader was cancelled: nobody reads this stream now.
                self._close()
                raise

    def _close(self) -> None:
        """Removes the listener; what was queued can still be read."""
        self._ended = True
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.remove()
        self._wake()

    def _end(self, loop: Optional[asyncio.AbstractEventLoop]) -> None:
        """The instance closed: the stream ends once what was queued is read."""
        self._subscription = None
        self._ended = True
        if loop is None or not loop.is_closed():
            self._wake()

    async def aclose(self) -> None:
        """Stops the stream: removes its listener and drops the events not
        yet read."""
        self._close()
        self._events.clear()
        self._dropped = 0

    def __del__(self) -> None:
        # Collected while still listening: remove the listener on the
        # loop's thread (never here: a collection may run anywhere, even
        # inside the library's callback or with the instance's lock held).
        subscription, self._subscription = getattr(self, "_subscription", None), None
        if subscription is None:
            return
        loop = self._sdk._loop
        try:
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(subscription.remove)
                return
        except RuntimeError:
            pass
        _orphans.append(subscription)


#: Listeners of streams collected with no loop to remove them on: removed by
#: the next `AsyncSdk` call or close (see `_reap`).
_orphans: List[Subscription] = []


def _reap() -> None:
    while _orphans:
        _orphans.pop().remove()
