"""getConversation and getConversationList from Python: the whole program.

    python get_conversation.py            # an in-memory store
"""
import asyncio

import imconv

SAMPLE = """[
  {"conversationID": "c2c_alice", "showName": "Alice Chen", "unreadCount": 2,
   "lastMessage": {"msgID": "m1", "timestamp": 1700000100, "text": "Hi!"}},
  {"conversationID": "group_team", "showName": "Platform team"}
]"""


def blocking():
    with imconv.Sdk("me") as sdk:
        sdk.import_conversations(SAMPLE)
        alice = sdk.get_conversation("c2c_alice")
        print(f"{alice.conversation_id}: {alice.show_name}, {alice.unread_count} unread")
        for c in sdk.get_conversation_list(["group_team", "c2c_alice", "c2c_nobody"]):
            print(f"  listed {c.conversation_id} ({c.show_name})")
        try:
            sdk.get_conversation("bad id")
        except imconv.ImconvError as e:
            print(f"error {e.code}: {e.message}")


async def with_asyncio():
    async with imconv.AsyncSdk("me") as sdk:
        await sdk.import_conversations(SAMPLE)
        alice, team = await asyncio.gather(sdk.get_conversation("c2c_alice"),
                                           sdk.get_conversation("group_team"))
        print(f"asyncio: {alice.show_name}, {team.show_name}")


if __name__ == "__main__":
    blocking()
    asyncio.run(with_asyncio())
