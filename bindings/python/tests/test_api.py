"""Every call of the library from Python, blocking (both delivery modes)
and asyncio: values, typed inputs, listeners and event streams, pages,
errors by kind, the log, and callback exceptions."""
import asyncio
import json
import os
import logging
import threading
from typing import Any, List

import pytest

import imconv
from imconv import Filter, Mark, NewMessage, Profile, RecvOpt

SAMPLE = [
    {"conversationID": "c2c_alice", "showName": "Alice", "unreadCount": 2,
     "lastMessage": {"msgID": "m1", "timestamp": 100, "text": "hi"}},
    {"conversationID": "c2c_bob", "showName": "Bob"},
    {"conversationID": "group_g", "groupType": "Work", "showName": "G", "unreadCount": 5,
     "groupReadSequence": 3},
]


@pytest.fixture(params=["thread", "host"])
def sdk(request: Any) -> Any:
    with imconv.Sdk("me", delivery=request.param) as s:
        s.import_conversations(SAMPLE)
        yield s


def ids(conversations: List[imconv.Conversation]) -> List[str]:
    return [c.conversation_id for c in conversations]


def test_reads(sdk: imconv.Sdk) -> None:
    alice = sdk.get_conversation("c2c_alice")
    assert alice.type is imconv.ConversationType.C2C and alice.user_id == "alice"
    assert alice.last_message is not None and json.loads(alice.last_message.json)["text"] == "hi"
    assert ids(sdk.get_conversation_list(["group_g", "c2c_zed", "c2c_alice"])) == \
        ["group_g", "c2c_alice"]
    page = sdk.get_conversation_page(count=2)
    assert len(page.conversations) == 2 and not page.is_finished and page.next_cursor
    rest = sdk.get_conversation_page(cursor=page.next_cursor, count=2)
    assert rest.is_finished and len(rest.conversations) == 1
    every = ids(list(sdk.iter_conversations(page_size=1)))
    assert sorted(every) == ["c2c_alice", "c2c_bob", "group_g"]
    assert every == ids(page.conversations + rest.conversations)
    assert sdk.get_total_unread() == 7
    assert sdk.get_total_unread(Filter(type=imconv.ConversationType.GROUP)) == 5
    assert ids(list(sdk.iter_conversations(Filter(has_unread=True)))) == \
        [i for i in every if i != "c2c_bob"]
    assert sdk.get_groups() == []


def test_every_write(sdk: imconv.Sdk) -> None:
    sdk.apply_messages([NewMessage("c2c_bob", "b1", 200, sender="bob", fields={"text": "yo"})])
    bob = sdk.get_conversation("c2c_bob")
    assert bob.unread_count == 1 and bob.last_message is not None
    assert json.loads(bob.last_message.json)["text"] == "yo"
    sdk.apply_messages('[{"conversationID":"c2c_bob","msgID":"b2","timestamp":201}]')
    assert sdk.get_conversation("c2c_bob").unread_count == 2
    sdk.apply_messages([NewMessage("c2c_bob", "b3", 202, counts_as_unread=False),
                        NewMessage("c2c_bob", "b2", 201, status=6)])  # a verdict, a revoke
    assert sdk.get_conversation("c2c_bob").unread_count == 1
    sdk.apply_messages([NewMessage("c2c_bob", "b4", 203, at_type=imconv.AtType.AT_ME)])
    assert [a.at_type for a in sdk.get_conversation("c2c_bob").group_at_info_list] == [1]
    sdk.clean_unread("c2c_bob")
    assert sdk.get_conversation("c2c_bob").unread_count == 0
    sdk.clean_unread("group_g", clean_sequence=9)
    assert sdk.get_conversation("group_g").group_read_sequence == 9
    sdk.clean_unread()
    assert sdk.get_total_unread() == 0
    sdk.sync_conversations([{"conversationID": "c2c_alice", "unreadCount": 4}])
    assert sdk.get_conversation("c2c_alice").unread_count == 4
    sdk.set_draft("c2c_alice", "later")
    assert sdk.get_conversation("c2c_alice").draft_text == "later"
    sdk.set_draft("c2c_alice", None)
    assert sdk.get_conversation("c2c_alice").draft_text == ""
    sdk.pin_conversation("c2c_bob")
    assert sdk.get_conversation("c2c_bob").is_pinned
    assert ids(sdk.get_conversation_page().conversations)[0] == "c2c_bob"
    sdk.pin_conversation("c2c_bob", False)
    sdk.set_recv_opt(["c2c_alice", "group_g"], RecvOpt.NOT_NOTIFY)
    assert sdk.get_conversation("group_g").recv_opt == RecvOpt.NOT_NOTIFY
    assert sdk.get_total_unread() == 0  # muted ones are left out
    sdk.set_custom_data(["c2c_alice"], "x=1")
    assert sdk.get_conversation("c2c_alice").custom_data == "x=1"
    sdk.mark_conversations(["c2c_alice", "c2c_bob"], Mark.STAR)
    sdk.mark_conversations(["c2c_bob"], Mark.STAR, enable=False)
    assert ids(list(sdk.iter_conversations(Filter(mark=Mark.STAR)))) == ["c2c_alice"]
    sdk.create_group("work", ["c2c_alice"])
    sdk.add_to_group("work", ["group_g"])
    sdk.remove_from_group("work", ["c2c_alice"])
    sdk.rename_group("work", "job")
    assert sdk.get_groups() == ["job"]
    assert ids(list(sdk.iter_conversations(Filter(group="job")))) == ["group_g"]
    sdk.delete_group("job")
    assert sdk.get_groups() == []
    sdk.update_profiles([Profile(user_id="alice", show_name="Alice C.", face_url="https://a")])
    assert sdk.get_conversation("c2c_alice").show_name == "Alice C."
    sdk.update_profiles('[{"groupID":"g","showName":"Team"}]')
    assert sdk.get_conversation("group_g").show_name == "Team"
    sdk.delete_conversations(["c2c_bob", "c2c_unknown"])
    assert not sdk.get_conversation("c2c_bob").is_stored
    sdk.sync_snapshot([{"conversationID": "group_g"}])  # the server's whole list
    assert ids(list(sdk.iter_conversations())) == ["group_g"]


def test_one_page_size_rule(sdk: imconv.Sdk) -> None:
    # 1 to MAX_PAGE, as the header's IMCONV_MAX_PAGE; anything else is
    # refused before anything is read (0.3.0 read 0 as 1 and made 2,000
    # round trips for 2,000 conversations).
    assert imconv.MAX_PAGE == 1000
    for bad in (0, -1, imconv.MAX_PAGE + 1):
        with pytest.raises(imconv.InvalidParametersError, match=f"count must be 1 to 1000.*got {bad}"):
            sdk.get_conversation_page(count=bad)
        with pytest.raises(imconv.InvalidParametersError):
            next(sdk.iter_conversations(page_size=bad))
    assert len(sdk.get_conversation_page(count=imconv.MAX_PAGE).conversations) == 3


def test_conversations_round_trip_as_dataclasses(sdk: imconv.Sdk) -> None:
    before = sdk.get_conversation_list(["c2c_alice", "group_g"])
    with imconv.Sdk("me") as other:
        other.import_conversations(before)
        assert other.get_conversation_list(["c2c_alice", "group_g"]) == before


def test_errors_by_kind(sdk: imconv.Sdk) -> None:
    with pytest.raises(imconv.InvalidParametersError) as e:
        sdk.pin_conversation("c2c_nobody")
    assert e.value.code is imconv.ErrorCode.INVALID_PARAMETERS and "c2c_nobody" in e.value.message
    with pytest.raises(imconv.InvalidJsonError):
        sdk.apply_messages("[{")
    with pytest.raises(imconv.InvalidParametersError):
        sdk.set_recv_opt(["c2c_alice"], 9)  # type: ignore[arg-type]
    assert imconv.error_text(6904).startswith("the write queue") or imconv.error_text(6904)


def test_listener_events_in_order(sdk: imconv.Sdk) -> None:
    seen: List[Any] = []
    with sdk.add_listener(on_new=lambda cs: seen.append(("new", ids(cs))),
                          on_changed=lambda cs: seen.append(("changed", ids(cs))),
                          on_deleted=lambda gone: seen.append(("deleted", gone)),
                          on_total_unread_changed=lambda t: seen.append(("total", t))):
        sdk.apply_messages([NewMessage("c2c_carol", "c1", 300)])
        sdk.delete_conversations(["c2c_carol"])
    sdk.apply_messages([NewMessage("c2c_dave", "d1", 301)])  # removed: not seen
    sdk.dispatch()
    assert seen == [("new", ["c2c_carol"]), ("total", 8), ("deleted", ["c2c_carol"]),
                    ("total", 7)]


def test_a_callback_exception_is_reported_not_lost(sdk: imconv.Sdk) -> None:
    reported: List[BaseException] = []
    imconv.set_callback_error_handler(reported.append)
    try:
        def boom(_: Any) -> None:
            raise RuntimeError("from a listener")
        with sdk.add_listener(on_new=boom):
            sdk.apply_messages([NewMessage("c2c_erin", "e1", 1)])
        assert [str(e) for e in reported] == ["from a listener"]
        assert sdk.get_conversation("c2c_erin").is_stored  # the instance goes on
    finally:
        imconv.set_callback_error_handler(None)


def test_waiting_inside_an_own_callback() -> None:
    with imconv.Sdk("me") as sdk:  # thread delivery: it would wait for itself
        sdk.import_conversations(SAMPLE)
        outcome: List[Any] = []

        def on_new(_: Any) -> None:
            try:
                sdk.get_conversation("c2c_alice")
            except imconv.WouldDeadlockError as e:
                outcome.append(e.code)
        with sdk.add_listener(on_new=on_new):
            sdk.apply_messages([NewMessage("c2c_f", "f1", 1)])
        assert outcome == [imconv.ErrorCode.WOULD_DEADLOCK]
    with imconv.Sdk("me", delivery="host") as sdk:  # host delivery: it dispatches
        sdk.import_conversations(SAMPLE)
        names: List[str] = []
        with sdk.add_listener(on_new=lambda _: names.append(
                sdk.get_conversation("c2c_alice").show_name)):
            sdk.apply_messages([NewMessage("c2c_f", "f1", 1)])
        assert names == ["Alice"]


def test_host_delivery_runs_callbacks_only_in_dispatch() -> None:
    with imconv.Sdk("me", delivery="host") as sdk:
        assert sdk.event_fd() >= 0
        seen: List[str] = []
        sdk.add_listener(on_new=lambda cs: seen.extend(ids(cs)))
        done = threading.Event()
        # A write made on another thread: its events wait for our dispatch.
        t = threading.Thread(target=lambda: (sdk.dispatch(), done.set()))
        sdk.apply_messages([NewMessage("c2c_h", "h1", 1)])
        assert seen == ["c2c_h"]  # ran inside this thread's wait
        t.start()
        t.join()
        assert done.is_set()
    assert sdk.event_fd() == -1 and sdk.closed


def test_log_goes_to_logging(caplog: Any) -> None:
    imconv.route_log_to_logging(imconv.LogLevel.INFO)
    try:
        with caplog.at_level(logging.INFO, logger="imconv"):
            with imconv.Sdk("me") as sdk:
                with pytest.raises(imconv.InvalidParametersError):
                    sdk.get_conversation("nope")
        assert any("nope" in r.getMessage() for r in caplog.records), caplog.records
    finally:
        imconv.disable_log()
    with pytest.raises(imconv.InvalidParametersError):
        imconv.route_log_to_logging(7)  # type: ignore[arg-type]


def test_closed_instances_refuse_calls_and_wait_freed() -> None:
    sdk = imconv.Sdk("me")
    sdk.close()
    sdk.close()
    with pytest.raises(imconv.ShutdownError):
        sdk.get_conversation("c2c_a")
    imconv.wait_freed(1000)
    assert imconv.version().count(".") == 2


def test_async_every_call_events_and_pages() -> None:
    async def main() -> None:
        async with imconv.AsyncSdk("me") as sdk:
            stream = sdk.events()
            await sdk.import_conversations(SAMPLE)
            loop_thread = threading.get_ident()
            threads: List[int] = []
            sub = sdk.add_listener(on_changed=lambda _: threads.append(threading.get_ident()))
            await sdk.apply_messages([NewMessage("c2c_alice", "m2", 200)])
            sub.remove()
            assert threads == [loop_thread]  # callbacks run on the loop's thread
            first = await stream.__anext__()
            assert first.kind == "new" and len(first.conversations) == 3
            kinds = []
            async for event in stream:
                kinds.append(event.kind)
                if event.kind == "changed":
                    break
            assert kinds == ["total_unread", "changed"] or kinds == ["changed"]
            every = [c.conversation_id async for c in sdk.iter_conversations(page_size=2)]
            assert every[0] == "c2c_alice" and len(every) == 3
            assert await sdk.get_total_unread() == 8
            assert (await sdk.get_conversation_page(count=1)).conversations[0].unread_count == 3
            await sdk.clean_unread("c2c_alice")
            await sdk.sync_conversations([{"conversationID": "c2c_bob", "unreadCount": 1}])
            await sdk.set_draft("c2c_bob", "d")
            await sdk.pin_conversation("c2c_bob")
            await sdk.set_recv_opt(["group_g"], RecvOpt.NOT_RECEIVE)
            await sdk.set_custom_data(["c2c_bob"], "c")
            await sdk.mark_conversations(["c2c_bob"], Mark.FOLD)
            await sdk.create_group("a", ["c2c_bob"])
            await sdk.add_to_group("a", ["c2c_alice"])
            await sdk.remove_from_group("a", ["c2c_alice"])
            await sdk.rename_group("a", "b")
            assert await sdk.get_groups() == ["b"]
            await sdk.delete_group("b")
            await sdk.update_profiles([Profile(user_id="bob", show_name="Robert")])
            bob = (await sdk.get_conversation_list(["c2c_bob"]))[0]
            assert (bob.show_name, bob.draft_text, bob.is_pinned, bob.custom_data,
                    bob.mark_list, bob.unread_count) == ("Robert", "d", True, "c", [4], 1)
            await sdk.delete_conversations(["c2c_bob"])
            assert not (await sdk.get_conversation("c2c_bob")).is_stored
            await sdk.sync_snapshot('[{"conversationID":"c2c_alice"}]')
            assert [c.conversation_id async for c in sdk.iter_conversations()] == ["c2c_alice"]
            with pytest.raises(imconv.InvalidParametersError):
                await sdk.get_conversation("bad")
            await stream.aclose()
        assert [e async for e in stream] == []

    asyncio.run(main())


def test_async_stream_ends_when_the_instance_closes() -> None:
    async def main() -> List[str]:
        sdk = imconv.AsyncSdk("me")
        stream = sdk.events()
        await sdk.import_conversations(SAMPLE[:1])
        kinds = []

        async def reader() -> None:
            async for event in stream:
                kinds.append(event.kind)

        task = asyncio.ensure_future(reader())
        await asyncio.sleep(0)
        await sdk.aclose()
        await asyncio.wait_for(task, 10)
        return kinds

    assert asyncio.run(main()) == ["new", "total_unread"]


def test_async_sdk_refuses_thread_delivery() -> None:
    with pytest.raises(ValueError):
        imconv.AsyncSdk("me", delivery="thread")


def test_backup_copies_the_store_while_it_works(tmp_path: Any) -> None:
    data = tmp_path / "data"
    with imconv.Sdk("me", data_dir=data) as sdk:
        sdk.import_conversations(SAMPLE)
        sdk.backup(tmp_path / "copy.db")
        sdk.apply_messages([NewMessage("c2c_zed", "z1", 100)])  # after: not in it
        with pytest.raises(imconv.ImconvError, match="does not exist"):
            sdk.backup(tmp_path / "missing" / "copy.db")

        async def main() -> None:
            async with imconv.AsyncSdk("me", data_dir=tmp_path / "other") as aio:
                await aio.import_conversations(SAMPLE[:1])
                await aio.backup(str(tmp_path / "async.db"))
        asyncio.run(main())
    import sqlite3
    db = sqlite3.connect(tmp_path / "copy.db")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    held = sorted(r[0] for r in db.execute("SELECT conversation_id FROM conversation"))
    assert held == ["c2c_alice", "c2c_bob", "group_g"]
    db.close()
    assert (tmp_path / "async.db").stat().st_size > 0


def test_restore_from_a_backup(tmp_path: Any) -> None:
    with imconv.Sdk("me", data_dir=tmp_path / "d") as sdk:
        sdk.import_conversations(SAMPLE[:1])
        sdk.backup(tmp_path / "b.db")
        sdk.import_conversations([{"conversationID": "c2c_later"}])
    with imconv.Sdk("me", data_dir=tmp_path / "d", restore_from=str(tmp_path / "b.db")) as sdk:
        assert sdk.get_conversation("c2c_alice").is_stored
        assert not sdk.get_conversation("c2c_later").is_stored
    (tmp_path / "bad.db").write_bytes(b"not a store" * 100)
    with pytest.raises(imconv.StoreError, match="restore_from"):
        imconv.Sdk("me", data_dir=tmp_path / "d", restore_from=str(tmp_path / "bad.db"))


def test_damage_is_told_contained_and_repaired(tmp_path: Any) -> None:
    import sqlite3
    data = tmp_path / "data"
    with imconv.Sdk("me", data_dir=data) as sdk:
        sdk.import_conversations(SAMPLE)
    (path,) = list(data.glob("*/conversations.db"))
    db = sqlite3.connect(path)
    db.execute("UPDATE conversation SET show_name = 'B0b' WHERE conversation_id = 'c2c_bob'")
    db.commit()
    db.close()
    told: List[Any] = []
    with imconv.Sdk("me", data_dir=data) as sdk:
        with sdk.add_listener(on_store_error=lambda code, message, ids: told.append((code, ids))):
            with pytest.raises(imconv.StoreDamagedError, match="c2c_bob"):
                sdk.get_conversation("c2c_bob")
            listed = sorted(c.conversation_id for c in sdk.get_conversation_page().conversations)
            assert listed == ["c2c_alice", "group_g"]  # left out, and the page goes on
            assert sdk.verify_store() == ["c2c_bob"]
            assert sdk.get_groups() is not None  # the told event precedes this answer
            assert told == [(imconv.ErrorCode.STORE_DAMAGED, ["c2c_bob"])]
            sdk.import_conversations([{"conversationID": "c2c_bob", "showName": "Bob"}])
            assert sdk.get_conversation("c2c_bob").show_name == "Bob"
            assert sdk.verify_store() == []
    # A damaged header: refused by default, rebuilt on request.
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 2057")
    db.close()
    with pytest.raises(imconv.StoreDamagedError, match="conversations.db"):
        imconv.Sdk("me", data_dir=data)
    with imconv.Sdk("me", data_dir=data, on_damage="rebuild") as sdk:
        events: List[Any] = []
        with sdk.add_listener(on_store_error=lambda code, message, ids: events.append(message)):
            assert sdk.get_conversation("c2c_bob").show_name == "Bob"
            assert sdk.get_groups() is not None
        assert len(events) == 1 and "rebuilt: 3 conversations salvaged, 0 lost" in events[0]
    assert (path.parent / "conversations.db.damaged").exists()


def test_encryption_at_rest_key_rekey_and_delete(tmp_path: Any) -> None:
    key = bytes(range(32))
    other = "ff" * 32
    data = tmp_path / "data"
    with imconv.Sdk("me", data_dir=data, encryption_key=key) as sdk:
        sdk.import_conversations([{"conversationID": "c2c_zed", "showName": "Zed Hiddenname"}])
    for f in (data / "me").iterdir():
        assert b"Hiddenname" not in f.read_bytes(), f
    with pytest.raises(imconv.WrongKeyError) as wrong:
        imconv.Sdk("me", data_dir=data, encryption_key=other)
    assert wrong.value.code == imconv.ErrorCode.WRONG_KEY
    assert other not in str(wrong.value) and key.hex() not in str(wrong.value)
    with pytest.raises(imconv.WrongKeyError):
        imconv.Sdk("me", data_dir=data)
    with pytest.raises(imconv.InvalidParametersError, match="32 bytes"):
        imconv.Sdk("me", data_dir=data, encryption_key=b"short")
    # The key as hex works as well as bytes; rekey to another, then plain.
    with imconv.Sdk("me", data_dir=data, encryption_key=key.hex()) as sdk:
        sdk.rekey(other)
        assert sdk.get_conversation("c2c_zed").show_name == "Zed Hiddenname"
        with pytest.raises(imconv.StoreLockedError):
            imconv.delete_store("me", data)
    with imconv.Sdk("me", data_dir=data, encryption_key=other) as sdk:
        sdk.rekey(None)
    with imconv.Sdk("me", data_dir=data) as sdk:
        assert sdk.get_conversation("c2c_zed").is_stored

    async def rekey_async() -> None:
        async with imconv.AsyncSdk("me", data_dir=data) as asdk:
            await asdk.rekey(key)

    asyncio.run(rekey_async())
    with pytest.raises(imconv.WrongKeyError):
        imconv.Sdk("me", data_dir=data)
    # A lost key: delete the store and start over.
    imconv.delete_store("me", data)
    assert not (data / "me").exists()
    with imconv.Sdk("me", data_dir=data, encryption_key=other) as sdk:
        assert not sdk.get_conversation("c2c_zed").is_stored


def test_shared_store_two_processes_suspend_and_resume(tmp_path: Any) -> None:
    """`shared=True`: another process writes the store while this one is
    open, then while it is suspended; each write is seen (and heard)."""
    import subprocess
    import sys
    import textwrap
    script = textwrap.dedent(f"""
        import imconv, sys
        with imconv.Sdk("me", {str(tmp_path)!r}, shared=True) as s:
            s.apply_messages([imconv.NewMessage(conversation_id=sys.argv[1], msg_id=sys.argv[2],
                                                timestamp=int(sys.argv[3]))])
            print(s.get_total_unread())
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))

    def other_process(conv: str, msg: str, ts: int) -> str:
        done = subprocess.run([sys.executable, "-c", script, conv, msg, str(ts)], env=env,
                              capture_output=True, text=True, check=True)
        return done.stdout.strip()

    heard: List[str] = []
    with imconv.Sdk("me", tmp_path, shared=True) as app:
        app.add_listener(on_new=lambda convs: heard.extend(c.conversation_id for c in convs))
        assert app.get_total_unread() == 0
        assert other_process("c2c_alice", "m1", 100) == "1"
        # Seen at the next call, linearizably.
        assert app.get_conversation("c2c_alice").unread_count == 1
        app.suspend()
        with pytest.raises(imconv.SuspendedError):
            app.get_total_unread()
        assert other_process("c2c_bob", "b1", 200) == "2"
        app.resume()
        assert app.get_total_unread() == 2
        assert "c2c_bob" in heard
    with pytest.raises(imconv.StoreLockedError):
        with imconv.Sdk("me", tmp_path, shared=True):
            imconv.Sdk("me", tmp_path)
