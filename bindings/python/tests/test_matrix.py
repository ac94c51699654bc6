"""imconv.matrix on /sync answers recorded from Synapse 1.163.2 (by
`tools/matrix/scenario.py --record`): an initial sync of six rooms (a DM
with three messages in one second, a named group with a mention, a muted
group, a group alice then leaves, an unnamed group, a group with more
messages than the timeline holds) and an incremental one (a receipt on
"quick 1" from alice's second device, an edit, a redaction, a favourite, a
low-priority tag, a rename, a leave, alice's own message)."""
import asyncio
import json
import os
from typing import Any, Dict, List, Mapping, Optional

import pytest

import imconv
from imconv.matrix import AsyncMatrixSync, MatrixSync

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "matrix")
ME = "@alice:localhost"
BOB = "c2c_@bob:localhost"


def recorded(n: int) -> Any:
    with open(os.path.join(HERE, f"sync-{n}.json"), encoding="utf-8") as f:
        return json.load(f)


class Replay:
    """Answers /sync with the recordings in order; checks the token."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.since: List[Optional[str]] = []

    def request(self, method: str, path: str, params: Optional[Mapping[str, str]] = None,
                timeout_s: float = 60.0) -> Any:
        assert (method, path) == ("GET", "/sync"), f"unexpected request {method} {path}"
        assert params is not None and json.loads(params["filter"])["room"]["timeline"]["limit"] == 10
        self.since.append(params.get("since"))
        return self.answers.pop(0)


def by_name(sdk: imconv.Sdk) -> Dict[str, imconv.Conversation]:
    return {c.show_name: c for c in sdk.iter_conversations()}


def text(c: imconv.Conversation) -> str:
    assert c.last_message is not None
    return str(json.loads(c.last_message.json)["text"])


@pytest.mark.parametrize("mode", ["server", "engine"])
def test_an_initial_and_an_incremental_sync(mode: str, tmp_path: Any) -> None:
    state = str(tmp_path / "state.json")
    with imconv.Sdk(ME) as sdk:
        stages: List[str] = []
        sdk.add_listener(on_sync_server_start=lambda: stages.append("start"),
                         on_sync_server_finish=lambda: stages.append("finish"))
        replay = Replay(recorded(1), recorded(2))
        adapter = MatrixSync(sdk, "http://unused", "token", user_id=ME, state_path=state,
                             count_unread=mode, timeline_limit=10, transport=replay)
        report = adapter.sync_once()
        assert (report.rooms, report.messages) == (6, 21)
        convs = by_name(sdk)
        assert sorted(convs) == ["Busy", "Noise", "Old", "Team", "bob", "bob, carol"]
        assert convs["bob"].conversation_id == BOB and text(convs["bob"]) == "quick 3"
        assert all(c.conversation_id.startswith("group_!") for n, c in convs.items() if n != "bob")
        unread = {n: c.unread_count for n, c in convs.items()}
        assert unread == {"bob": 3, "Team": 3, "Noise": 0, "Old": 1, "bob, carol": 1, "Busy": 15}
        assert convs["Noise"].recv_opt == imconv.RecvOpt.NOT_NOTIFY
        assert [n for n, c in convs.items() if c.group_at_info_list] == ["Team"]
        # Three messages in one second: the last one by milliseconds.
        bob = convs["bob"]
        assert bob.last_message is not None and bob.last_message.timestamp_ms % 1000 != 0

        report = adapter.sync_once()
        assert replay.since == [None, recorded(1)["next_batch"]]
        assert (report.receipts, report.deleted) == (1, 1)
        convs = by_name(sdk)
        assert sorted(convs) == ["Busy", "Noise", "Team 2", "bob", "bob, carol"]
        # The receipt on "quick 1" reads that message only.
        assert convs["bob"].unread_count == 2 and text(convs["bob"]) == "quick 3, edited"
        team = convs["Team 2"]
        assert team.is_pinned and text(team) == "one more" and team.unread_count == 3
        assert len(team.group_at_info_list) == 1, "the redacted message had no mention"
        assert int(imconv.Mark.FOLD) in convs["Noise"].mark_list
        mine = convs["bob, carol"].last_message
        assert mine is not None and mine.is_self and convs["bob, carol"].unread_count == 1
        # Pinned first, then by the newest message's millisecond.
        order = [c.show_name for c in sdk.iter_conversations()]
        assert order[0] == "Team 2" and order[1:] == sorted(
            order[1:], key=lambda n: -(convs[n].last_message.timestamp_ms  # type: ignore
                                       if convs[n].last_message else 0))
        sdk.dispatch()
        assert stages == ["start", "finish"] * 2

        # A restart resumes from the saved token.
        again = Replay({"next_batch": "s99", "rooms": {}})
        MatrixSync(sdk, "http://unused", "token", user_id=ME, state_path=state,
                   count_unread=mode, timeline_limit=10, transport=again).sync_once()
        assert again.since == [recorded(2)["next_batch"]]
        with open(state, encoding="utf-8") as f:
            assert json.load(f)["next_batch"] == "s99"


def test_a_failing_sync_reports_failed_and_keeps_the_token(tmp_path: Any) -> None:
    state = str(tmp_path / "state.json")
    bad = recorded(2)
    room = next(iter(bad["rooms"]["join"].values()))
    room["timeline"]["events"].append({"type": "m.room.message", "event_id": "$" + "x" * 200,
                                       "sender": "@bob:localhost", "origin_server_ts": 1,
                                       "content": {"body": "too long an ID"}})
    with imconv.Sdk(ME) as sdk:
        stages: List[str] = []
        sdk.add_listener(on_sync_server_failed=lambda: stages.append("failed"))
        adapter = MatrixSync(sdk, "http://unused", "token", user_id=ME, state_path=state,
                             timeline_limit=10, transport=Replay(recorded(1), bad))
        adapter.sync_once()
        with pytest.raises(imconv.InvalidParametersError, match="msgID"):
            adapter.sync_once()
        sdk.dispatch()
        assert stages == ["failed"]
        with open(state, encoding="utf-8") as f:
            assert json.load(f)["next_batch"] == recorded(1)["next_batch"]


def test_the_async_adapter_maps_the_same() -> None:
    async def main() -> Dict[str, int]:
        sdk = imconv.AsyncSdk(ME)
        adapter = AsyncMatrixSync(sdk, "http://unused", "token", user_id=ME, count_unread="engine",
                                  timeline_limit=10, transport=Replay(recorded(1), recorded(2)))
        await adapter.sync_once()
        await adapter.sync_once()
        counts = {c.show_name: c.unread_count async for c in sdk.iter_conversations()}
        sdk.close()
        return counts

    assert asyncio.run(main()) == {"bob": 2, "Team 2": 3, "Noise": 0, "bob, carol": 1,
                                   "Busy": 15}
