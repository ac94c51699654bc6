"""`Conversation` reads the library's view lazily (issue 25, item 12) and
still behaves as the frozen value it was: equal field by field to one
built from values, immutable, pickled and copied as its values, valid
after the instance is closed."""
import copy
import gc
import pickle

import pytest

import imconv
from imconv import Conversation, ConversationType, GroupAtInfo, Message

STORED = {"conversationID": "group_g", "groupType": "Work", "showName": "G", "unreadCount": 5,
          "markList": [1, 4], "conversationGroupList": ["work"],
          "groupAtInfoList": [{"seq": 9, "atType": 2}],
          "lastMessage": {"msgID": "m1", "timestamp": 100, "seq": 9, "text": "hi"}}


def built() -> Conversation:
    return Conversation(
        conversation_id="group_g", type=ConversationType.GROUP, user_id="", group_id="g",
        group_type="Work", show_name="G", face_url="", unread_count=5, recv_opt=0,
        last_message=Message("m1", "", 100, 9, 0, False, False,
                             '{"msgID":"m1","timestamp":100,"seq":9,"text":"hi"}', 100_000),
        group_at_info_list=[GroupAtInfo(9, 2)], mark_list=[1, 4],
        conversation_group_list=["work"], is_stored=True)


def test_a_handed_out_conversation_equals_one_built_from_its_values() -> None:
    with imconv.Sdk("me") as sdk:
        sdk.import_conversations([STORED])
        got = sdk.get_conversation("group_g")
    gc.collect()
    # Read after the instance is closed: the view is retained.
    expected = built()
    for name in ("conversation_id", "type", "group_id", "group_type", "show_name",
                 "unread_count", "group_at_info_list", "mark_list", "conversation_group_list",
                 "is_stored"):
        assert getattr(got, name) == getattr(expected, name), name
    assert got.last_message is not None and got.last_message.msg_id == "m1"
    assert got.last_message.seq == 9 and got.last_message.timestamp_ms == 100_000
    # Every field the same (order_key and read positions as stored).
    assert got == Conversation(**{**expected._as_dict(), "order_key": got.order_key,
                                  "last_message": got.last_message,
                                  "read_timestamp_ms": got.read_timestamp_ms,
                                  "group_read_sequence": got.group_read_sequence})
    assert repr(got).startswith("Conversation(conversation_id='group_g', type=")


def test_a_conversation_is_immutable() -> None:
    with imconv.Sdk("me") as sdk:
        sdk.import_conversations([STORED])
        got = sdk.get_conversation("group_g")
        for c in (got, built()):
            with pytest.raises(AttributeError):
                c.show_name = "X"  # type: ignore[misc]
            with pytest.raises(AttributeError):
                c.anything = 1  # type: ignore[attr-defined]
            assert c.show_name == "G"


def test_pickled_and_copied_as_its_values() -> None:
    with imconv.Sdk("me") as sdk:
        sdk.import_conversations([STORED])
        got = sdk.get_conversation("group_g")
    again = pickle.loads(pickle.dumps(got))
    assert again == got and again is not got
    assert copy.deepcopy(got) == got
    assert copy.copy(got) is got


def test_building_one_names_what_is_wrong() -> None:
    with pytest.raises(TypeError, match="missing"):
        Conversation(conversation_id="c2c_a")
    with pytest.raises(TypeError, match="no field 'nickname'"):
        Conversation(**{**built()._as_dict(), "nickname": "x"})
    assert built().to_v2()["groupAtInfoList"] == [{"seq": 9, "atType": 2}]


def test_a_page_of_many_reads_each_lazily_and_right() -> None:
    with imconv.Sdk("me") as sdk:
        sdk.import_conversations([{"conversationID": f"c2c_u{i}", "showName": f"User {i}",
                                   "unreadCount": i % 5} for i in range(1000)])
        page = sdk.get_conversation_page(count=1000)
        names = {c.conversation_id: (c.show_name, c.unread_count) for c in page.conversations}
    assert len(names) == 1000
    assert all(names[f"c2c_u{i}"] == (f"User {i}", i % 5) for i in range(1000))
