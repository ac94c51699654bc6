"""imconv from Python: the whole program.

    python get_conversation.py            # an in-memory store

Blocking calls with a listener and paging, then the same with asyncio,
where events arrive as an async stream on the event loop.
"""
import asyncio

import imconv
from imconv import NewMessage

SAMPLE = [
    {"conversationID": "c2c_alice", "showName": "Alice Chen", "unreadCount": 2,
     "lastMessage": {"msgID": "m1", "timestamp": 1700000100, "text": "Hi!"}},
    {"conversationID": "group_team", "showName": "Platform team"},
]


def blocking() -> None:
    with imconv.Sdk("me") as sdk:
        sdk.import_conversations(SAMPLE)
        alice = sdk.get_conversation("c2c_alice")
        print(f"{alice.conversation_id}: {alice.show_name}, {alice.unread_count} unread")
        for c in sdk.get_conversation_list(["group_team", "c2c_alice", "c2c_nobody"]):
            print(f"  listed {c.conversation_id} ({c.show_name})")
        with sdk.add_listener(
                on_changed=lambda cs: print(f"  changed: {[c.conversation_id for c in cs]}"),
                on_total_unread_changed=lambda total: print(f"  total unread: {total}")):
            sdk.apply_messages([NewMessage("group_team", "t1", 1700000200, seq=1,
                                           sender="bob", fields={"text": "standup?"})])
            sdk.clean_unread("c2c_alice")
        for c in sdk.iter_conversations(page_size=1):  # the chat list, a page at a time
            print(f"  page: {c.show_name} ({c.unread_count} unread)")
        try:
            sdk.get_conversation("bad id")
        except imconv.InvalidParametersError as e:
            print(f"error {int(e.code)}: {e.message}")


async def with_asyncio() -> None:
    async with imconv.AsyncSdk("me") as sdk:
        events = sdk.events()
        await sdk.import_conversations(SAMPLE)
        alice, team = await asyncio.gather(sdk.get_conversation("c2c_alice"),
                                           sdk.get_conversation("group_team"))
        print(f"asyncio: {alice.show_name}, {team.show_name}")
        async for event in events:
            print(f"  event: {event.kind}")
            if event.kind == "total_unread":
                break
        async for c in sdk.iter_conversations():
            print(f"  listed {c.conversation_id}")


if __name__ == "__main__":
    blocking()
    asyncio.run(with_asyncio())
