"""The Python bindings: blocking and asyncio forms, values, errors with
codes, callbacks that outlive garbage collection, and waits that leave the
GIL to other threads."""
import asyncio
import gc
import json
import threading

import pytest

import imconv

SAMPLE = json.dumps([
    {"conversationID": "c2c_alice", "showName": "Alice", "unreadCount": 2, "markList": [1],
     "lastMessage": {"msgID": "m1", "timestamp": 5, "text": "hi"}},
    {"conversationID": "group_g", "showName": "G", "conversationGroupList": ["work"]},
])


def test_version_matches_the_package():
    from importlib.metadata import version
    assert imconv.version() == version("imconv")


def test_blocking_calls_values_and_errors(tmp_path):
    with imconv.Sdk("me", data_dir=tmp_path) as sdk:
        sdk.import_conversations(SAMPLE)
        alice = sdk.get_conversation("c2c_alice")
        assert alice.conversation_id == "c2c_alice" and alice.show_name == "Alice"
        assert alice.unread_count == 2 and alice.is_stored and alice.mark_list == [1]
        assert alice.last_message.msg_id == "m1" and alice.last_message.timestamp == 5
        nobody = sdk.get_conversation("c2c_nobody")
        assert not nobody.is_stored and nobody.show_name == "nobody"
        found = sdk.get_conversation_list(["group_g", "c2c_alice", "c2c_nobody", "group_g"])
        assert [c.conversation_id for c in found] == ["group_g", "c2c_alice"]
        assert found[0].conversation_group_list == ["work"]
        with pytest.raises(imconv.ImconvError) as e:
            sdk.get_conversation("not-an-id")
        assert e.value.code == 6017 and "not-an-id" in e.value.message
        with pytest.raises(imconv.ImconvError) as e:
            sdk.import_conversations("[{]")
        assert e.value.code == 6027
        sdk.sync_conversations('[{"conversationID":"c2c_alice","unreadCount":7}]')
        assert sdk.get_conversation("c2c_alice").unread_count == 7
    # Reopened: the data persisted; a second instance on the store is refused.
    with imconv.Sdk("me", data_dir=tmp_path) as sdk:
        assert sdk.get_conversation("c2c_alice").is_stored
        with pytest.raises(imconv.ImconvError) as e:
            imconv.Sdk("me", data_dir=tmp_path)
        assert e.value.code == 6902
    with pytest.raises(imconv.ImconvError) as e:
        imconv.Sdk("")
    assert e.value.code == 6017


def test_callbacks_survive_garbage_collection_and_many_threads():
    with imconv.Sdk("me") as sdk:
        sdk.import_conversations(SAMPLE)
        errors = []

        def worker():
            try:
                for _ in range(200):
                    gc.collect(0)
                    assert sdk.get_conversation("c2c_alice").show_name == "Alice"
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(e)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []


def test_waits_leave_the_gil_to_other_threads():
    with imconv.Sdk("me") as sdk:
        # A big import keeps the library busy while another Python thread
        # must keep running.
        big = json.dumps([{"conversationID": f"c2c_u{i}", "faceUrl": "x" * 300}
                          for i in range(20000)])
        ticks = []
        stop = threading.Event()

        def ticker():
            while not stop.is_set():
                ticks.append(1)
                stop.wait(0.001)

        t = threading.Thread(target=ticker)
        t.start()
        sdk.import_conversations(big)
        stop.set()
        t.join()
        assert len(ticks) > 5
        assert sdk.get_conversation("c2c_u19999").is_stored


def test_async_sdk():
    async def main():
        async with imconv.AsyncSdk("me") as sdk:
            await sdk.import_conversations(SAMPLE)
            alice, group = await asyncio.gather(sdk.get_conversation("c2c_alice"),
                                                sdk.get_conversation("group_g"))
            assert alice.show_name == "Alice" and group.show_name == "G"
            found = await sdk.get_conversation_list(["c2c_alice"])
            assert [c.conversation_id for c in found] == ["c2c_alice"]
            with pytest.raises(imconv.ImconvError) as e:
                await sdk.apply_messages('[{"conversationID":"c2c_a","msgID":"","timestamp":1}]')
            assert e.value.code == 6017

    asyncio.run(main())


def test_the_example_runs():
    import os
    import subprocess
    import sys
    example = os.path.join(os.path.dirname(__file__), "..", "examples", "get_conversation.py")
    out = subprocess.run([sys.executable, example], capture_output=True, text=True, check=True).stdout
    assert "c2c_alice: Alice Chen, 2 unread" in out
    assert "error 6017" in out and "asyncio: Alice Chen, Platform team" in out
    assert "  changed: ['group_team']\n  total unread: 3\n" in out
    assert "  page: Platform team (1 unread)\n  page: Alice Chen (0 unread)\n" in out
    assert "  event: new\n  event: total_unread\n" in out


def test_the_wheel_is_tagged_for_its_platform():
    # It ships a native library: a "pure" py3-none-any wheel would install
    # it anywhere. Its debug info is stripped.
    import importlib.metadata
    import pathlib

    wheel = importlib.metadata.distribution("imconv").read_text("WHEEL")
    assert "Root-Is-Purelib: false" in wheel
    tags = [line.split(": ", 1)[1] for line in wheel.splitlines() if line.startswith("Tag: ")]
    assert tags and all(t.startswith("py3-none-") and not t.endswith("-any") for t in tags), tags
    lib = pathlib.Path(imconv.__file__).with_name("libimconv.so")
    assert lib.stat().st_size < 10 * 1024 * 1024, lib.stat().st_size
