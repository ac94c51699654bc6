"""What a server-driven host calls from Python (0.3.0): reading up to a
message, millisecond time, sync stages, the five group events and unread
subscriptions, blocking (both delivery modes) and asyncio."""
import asyncio
from typing import Any, List, Tuple

import pytest

import imconv
from imconv import Filter, NewMessage, SyncStage

QUICK = [NewMessage("c2c_bob", f"q{i}", timestamp_ms=1700000000000 + 100 * i, sender="bob")
         for i in (1, 2, 3)]


@pytest.fixture(params=["thread", "host"])
def sdk(request: Any) -> Any:
    with imconv.Sdk("me", delivery=request.param) as s:
        yield s


def test_mark_read_by_message_and_milliseconds(sdk: imconv.Sdk) -> None:
    sdk.apply_messages(QUICK)
    bob = sdk.get_conversation("c2c_bob")
    assert bob.unread_count == 3
    assert bob.last_message is not None and bob.last_message.timestamp_ms == 1700000000300
    assert bob.last_message.timestamp == 1700000000
    sdk.mark_read("c2c_bob", "q1")
    bob = sdk.get_conversation("c2c_bob")
    assert (bob.unread_count, bob.c2c_read_timestamp, bob.read_timestamp_ms) == \
        (2, 1700000000, 1700000000100)
    assert bob.to_v2()["readTimestampMs"] == 1700000000100
    with pytest.raises(imconv.InvalidParametersError, match="nope"):
        sdk.mark_read("c2c_bob", "nope")


def test_sync_stages_and_group_events_in_order(sdk: imconv.Sdk) -> None:
    sdk.import_conversations('[{"conversationID":"c2c_a"},{"conversationID":"c2c_b"}]')
    log: List[Tuple[Any, ...]] = []
    sub = sdk.add_listener(
        on_sync_server_start=lambda: log.append(("start",)),
        on_sync_server_finish=lambda: log.append(("finish",)),
        on_sync_server_failed=lambda: log.append(("failed",)),
        on_conversation_group_created=lambda g, cs: log.append(
            ("created", g, [c.conversation_id for c in cs])),
        on_conversation_group_deleted=lambda g: log.append(("deleted", g)),
        on_conversation_group_name_changed=lambda old, new: log.append(("renamed", old, new)),
        on_conversations_added_to_group=lambda g, cs: log.append(
            ("added", g, [c.conversation_id for c in cs])),
        on_conversations_deleted_from_group=lambda g, cs: log.append(
            ("removed", g, [c.conversation_id for c in cs])))
    sdk.report_sync(SyncStage.STARTED)
    sdk.create_group("work", ["c2c_a"])
    sdk.add_to_group("work", ["c2c_a", "c2c_b"])
    sdk.remove_from_group("work", ["c2c_a"])
    sdk.rename_group("work", "home")
    sdk.delete_group("home")
    sdk.report_sync(SyncStage.FINISHED)
    sdk.report_sync(SyncStage.FAILED)
    sdk.dispatch()
    assert log == [("start",), ("created", "work", ["c2c_a"]), ("added", "work", ["c2c_b"]),
                   ("removed", "work", ["c2c_a"]), ("renamed", "work", "home"),
                   ("deleted", "home"), ("finish",), ("failed",)]
    sub.remove()
    with pytest.raises(TypeError):
        sdk.add_listener(on_nothing=print)  # type: ignore[call-arg]


def test_unread_subscription(sdk: imconv.Sdk) -> None:
    sdk.import_conversations('[{"conversationID":"group_g","unreadCount":1},'
                             '{"conversationID":"c2c_a","unreadCount":1}]')
    counts: List[Tuple[int, Filter, int]] = []
    sdk.add_listener(on_unread_count_changed_by_filter=lambda i, f, n: counts.append((i, f, n)))
    groups = Filter(type=imconv.ConversationType.GROUP)
    sid = sdk.subscribe_unread_count(groups)
    sdk.apply_messages([NewMessage("c2c_a", "1", 5)])
    sdk.apply_messages([NewMessage("group_g", "2", 6, seq=1)])
    sdk.dispatch()
    assert counts == [(sid, groups, 2)]
    sdk.unsubscribe_unread_count(sid)
    with pytest.raises(imconv.InvalidParametersError):
        sdk.unsubscribe_unread_count(sid)


def test_async_event_kinds() -> None:
    async def main() -> List[Tuple[str, str, int]]:
        sdk = imconv.AsyncSdk("me")
        events = sdk.events()
        sdk.subscribe_unread_count()
        await sdk.report_sync(SyncStage.STARTED)
        await sdk.apply_messages([NewMessage("c2c_a", "1", 5)])
        await sdk.create_group("g", ["c2c_a"])
        await sdk.mark_read("c2c_a", "1")
        await sdk.report_sync(SyncStage.FINISHED)
        sdk.close()
        return [(e.kind, e.group_name, e.total) async for e in events]

    assert asyncio.run(main()) == [
        ("sync_start", "", 0), ("new", "", 0), ("total_unread", "", 1), ("unread_count", "", 1),
        ("changed", "", 0), ("group_created", "g", 0), ("changed", "", 0),
        ("total_unread", "", 0), ("unread_count", "", 0), ("sync_finish", "", 0)]
