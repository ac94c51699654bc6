"""A reference adapter: a Matrix homeserver's `/sync` drives imconv.

`MatrixSync(sdk, homeserver, access_token)` maps each sync into imconv's
writes, then commits: `sync_once()` runs one `/sync` (initial, or from the
saved token) and returns when everything is committed; `run()` loops, and
`AsyncMatrixSync` is the same over an `AsyncSdk` for asyncio apps. HTTP goes
through httpx (`pip install imconv[matrix]`), or any `transport` you pass.

The mapping (see docs/syncing.md, "A Matrix homeserver"):
- rooms in `m.direct` are `c2c_<user ID>`, other rooms `group_<room ID>`;
  the name is `m.room.name`, else the DM partner's or the heroes' display
  names; the avatar is `m.room.avatar`, else the DM partner's;
- timeline messages are messages: msgID the event ID, `timestampMs` the
  `origin_server_ts`; an `m.replace` edit updates its original in place, a
  redaction revokes it (status 6); `m.mentions` gives the @ type;
- the user's `m.read` receipts, from any device, are `mark_read`;
- `m.favourite` pins, `m.lowpriority` is the fold mark, `m.marked_unread`
  the unread mark, a room's mute push rule is recvOpt 2 (no notification);
- rooms left are deleted;
- unread counts are the server's (`notification_count`, and
  `highlight_count` as @ entries) by default; `count_unread="engine"` lets
  imconv count, with the server's verdicts where the sync has them (muted
  rooms never count, mentions), and the server's count where the timeline
  has a gap (`limited`).

A sync is applied in this order, inside `report_sync` STARTED and FINISHED
(FAILED when something failed): messages, receipts, conversations, marks,
deletions; then the state (the token, `m.direct`, mutes, names) is saved to
`state_path` (atomically). A crash before the save applies the same sync
again after a restart, which changes nothing (every write is idempotent).
"""
import importlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import (Any, Callable, Dict, Generator, List, Mapping, Optional, Protocol, Set,
                    Tuple, Union)
from urllib.parse import quote

from .aio import AsyncSdk
from .errors import InvalidParametersError
from .sdk import Sdk
from .types import Mark, SyncStage

AT_ME, AT_ALL, AT_ALL_AT_ME = 1, 2, 3
_MAX_IDS = 100
_MESSAGE_TYPES = ("m.room.message", "m.sticker", "m.room.encrypted")


class Transport(Protocol):
    """How the adapter talks to the homeserver: one JSON request."""

    def request(self, method: str, path: str, params: Optional[Mapping[str, str]] = None,
                timeout_s: float = 60.0) -> Any:
        """Sends a request to `path` (under `/_matrix/client/v3`) and returns
        the decoded JSON body; raises on an HTTP error."""


class HttpxTransport:
    """The default transport: an httpx client with the access token."""

    def __init__(self, homeserver: str, access_token: str) -> None:
        # Imported by name: httpx is optional (the `matrix` extra), and the
        # package type-checks without it.
        httpx: Any = importlib.import_module("httpx")
        self._client: Any = httpx.Client(base_url=homeserver.rstrip("/") + "/_matrix/client/v3",
                                    headers={"Authorization": f"Bearer {access_token}"})

    def request(self, method: str, path: str, params: Optional[Mapping[str, str]] = None,
                timeout_s: float = 60.0) -> Any:
        """See `Transport.request`."""
        response = self._client.request(method, path, params=params, timeout=timeout_s)
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        """Closes the client's connections."""
        self._client.close()


@dataclass
class SyncReport:
    """What one `sync_once` did, and where the time went."""

    next_batch: str = ""
    rooms: int = 0
    messages: int = 0
    receipts: int = 0
    deleted: int = 0
    #: Waiting for the server's answer, and applying it to imconv.
    server_ms: float = 0.0
    imconv_ms: float = 0.0


@dataclass
class _Room:
    """What the adapter remembers of a room between syncs."""

    conversation_id: str = ""
    name: str = ""
    avatar: str = ""
    heroes: List[str] = field(default_factory=list)
    #: Display name and avatar of its heroes (and of a DM's partner).
    members: Dict[str, List[str]] = field(default_factory=dict)


@dataclass
class _Http:
    method: str
    path: str
    params: Optional[Dict[str, str]] = None
    timeout_s: float = 60.0


@dataclass
class _Call:
    """One call of the instance (the same name on `Sdk` and `AsyncSdk`)."""

    name: str
    args: Tuple[Any, ...] = ()


_Step = Union[_Http, _Call]


def _mentions(content: Mapping[str, Any], me: str) -> int:
    m = content.get("m.mentions")
    if not isinstance(m, dict):
        return 0
    mine = me in (m.get("user_ids") or [])
    room = m.get("room") is True
    return AT_ALL_AT_ME if mine and room else AT_ME if mine else AT_ALL if room else 0


def _muted_rooms(push_rules: Mapping[str, Any]) -> Set[str]:
    """Rooms whose push rule never notifies (an override or room rule named
    after the room without a "notify" action)."""
    muted: Set[str] = set()
    rules = push_rules.get("global", {})
    for kind in ("override", "room"):
        for rule in rules.get(kind, []):
            room = rule.get("rule_id", "")
            if room.startswith("!") and rule.get("enabled", True) and "notify" not in rule.get(
                    "actions", []):
                muted.add(room)
    return muted


class _Engine:
    """The mapping, free of I/O: `steps()` yields the HTTP requests and
    instance calls one sync needs and receives their results."""

    def __init__(self, user_id: str, count_unread: str, timeline_limit: int,
                 state_path: Optional[str]) -> None:
        if count_unread not in ("server", "engine"):
            raise ValueError('count_unread must be "server" or "engine"')
        self.me = user_id
        self.engine_counts = count_unread == "engine"
        self.timeline_limit = timeline_limit
        self.state_path = state_path
        self.next_batch = ""
        self.direct: Dict[str, str] = {}
        self.muted: Set[str] = set()
        self.rooms: Dict[str, _Room] = {}
        if state_path and os.path.exists(state_path):
            with open(state_path, encoding="utf-8") as f:
                saved = json.load(f)
            self.next_batch = saved.get("next_batch", "")
            self.direct = saved.get("direct", {})
            self.muted = set(saved.get("muted", []))
            self.rooms = {r: _Room(**v) for r, v in saved.get("rooms", {}).items()}

    def save(self) -> None:
        """Writes the state atomically: a new file renamed over the old."""
        if not self.state_path:
            return
        folder = os.path.dirname(os.path.abspath(self.state_path))
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".matrix-state-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"next_batch": self.next_batch, "direct": self.direct,
                       "muted": sorted(self.muted),
                       "rooms": {r: vars(v) for r, v in self.rooms.items()}}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_path)

    def conversation_id(self, room_id: str) -> str:
        partner = self.direct.get(room_id)
        return f"c2c_{partner}" if partner else f"group_{room_id}"

    def steps(self, timeout_ms: int, report: SyncReport) -> Generator[_Step, Any, SyncReport]:
        # Lazy-loaded members: only the senders' and the heroes' (which the
        # server sends, with the room summary, only then).
        sync_filter = json.dumps({"room": {"timeline": {"limit": self.timeline_limit},
                                           "state": {"lazy_load_members": True}}})
        params = {"timeout": str(timeout_ms), "filter": sync_filter}
        if self.next_batch:
            params["since"] = self.next_batch
        started = time.perf_counter()
        response = yield _Http("GET", "/sync", params, timeout_s=timeout_ms / 1000 + 60)
        report.server_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        yield _Call("report_sync", (SyncStage.STARTED,))
        try:
            yield from self._apply(response, report)
        except BaseException:
            yield _Call("report_sync", (SyncStage.FAILED,))
            raise
        self.next_batch = response.get("next_batch", self.next_batch)
        self.save()
        yield _Call("report_sync", (SyncStage.FINISHED,))
        report.next_batch = self.next_batch
        report.imconv_ms = (time.perf_counter() - started) * 1000
        return report

    def _apply(self, response: Mapping[str, Any], report: SyncReport) -> Generator[_Step, Any, None]:
        moved: List[str] = []
        for event in response.get("account_data", {}).get("events", []):
            if event.get("type") == "m.direct":
                direct = {room: user for user, rooms in event.get("content", {}).items()
                          for room in rooms}
                # A room that became (or stopped being) a DM changes its ID.
                for room, r in self.rooms.items():
                    if r.conversation_id and direct.get(room) != self.direct.get(room):
                        moved.append(r.conversation_id)
                        r.conversation_id = ""
                self.direct = direct
            elif event.get("type") == "m.push_rules":
                muted = _muted_rooms(event.get("content", {}))
                changed, self.muted = muted ^ self.muted, muted
                for room in changed & set(self.rooms):
                    self.rooms[room].conversation_id = ""  # named again below
        rooms = response.get("rooms", {})
        joined: Mapping[str, Any] = rooms.get("join", {})
        messages: List[Dict[str, Any]] = []
        receipts: List[Tuple[str, str]] = []
        elements: List[Dict[str, Any]] = []
        marks: Dict[Tuple[int, bool], List[str]] = {}
        # Messages by event ID, for edits and redactions in the same sync.
        batch: Dict[str, Dict[str, Any]] = {}
        for room_id, room in joined.items():
            conv = self.conversation_id(room_id)
            known = self.rooms.setdefault(room_id, _Room())
            element = self._describe(room_id, room, known, conv)
            for event in room.get("timeline", {}).get("events", []):
                yield from self._timeline_event(room_id, conv, event, messages, batch)
            receipt = self._own_receipt(room.get("ephemeral", {}).get("events", []))
            if receipt:
                receipts.append((conv, receipt))
            counts = room.get("unread_notifications", {})
            limited = room.get("timeline", {}).get("limited", False)
            if "notification_count" in counts and (not self.engine_counts or limited
                                                    or not known.conversation_id):
                element["unreadCount"] = counts["notification_count"]
                if not self.engine_counts:
                    element["groupAtInfoList"] = [{"seq": 0, "atType": AT_ME}] * min(
                        counts.get("highlight_count", 0), 100)
            for event in room.get("account_data", {}).get("events", []):
                for mark, on in self._marks(event):
                    marks.setdefault((mark, on), []).append(conv)
                if event.get("type") == "m.tag":
                    element["isPinned"] = "m.favourite" in event.get("content", {}).get("tags", {})
            known.conversation_id = conv
            elements.append(element)
        # Rooms not in this sync whose mute changed, or that moved.
        for room_id, known in self.rooms.items():
            if not known.conversation_id and room_id not in rooms.get("leave", {}):
                known.conversation_id = self.conversation_id(room_id)
                elements.append(self._describe(room_id, {}, known, known.conversation_id))
        left = [self.rooms.pop(r).conversation_id for r in rooms.get("leave", {})
                if r in self.rooms] + moved
        if messages:
            yield _Call("apply_messages", (messages,))
        for conv, event_id in receipts:
            try:
                yield _Call("mark_read", (conv, event_id))
            except InvalidParametersError:
                pass  # a receipt on an event this client never saw
        if elements:
            yield _Call("sync_conversations", (elements,))
        for (mark, on), convs in marks.items():
            for i in range(0, len(convs), _MAX_IDS):
                yield _Call("mark_conversations", (convs[i:i + _MAX_IDS], mark, on))
        for i in range(0, len(left), _MAX_IDS):
            yield _Call("delete_conversations", (left[i:i + _MAX_IDS],))
        report.rooms, report.messages = len(joined), len(messages)
        report.receipts, report.deleted = len(receipts), len(left)

    def _describe(self, room_id: str, room: Mapping[str, Any], known: _Room,
                  conv: str) -> Dict[str, Any]:
        """The room's sync element: name, avatar, receive option."""
        heroes = room.get("summary", {}).get("m.heroes")
        if heroes is not None:
            known.heroes = list(heroes)
        partner = self.direct.get(room_id)
        state = list(room.get("state", {}).get("events", [])) + [
            e for e in room.get("timeline", {}).get("events", []) if "state_key" in e]
        for event in state:
            content, kind = event.get("content", {}), event.get("type")
            if kind == "m.room.name":
                known.name = content.get("name", "") or ""
            elif kind == "m.room.avatar":
                known.avatar = content.get("url", "") or ""
            elif kind == "m.room.member":
                user = event.get("state_key", "")
                if user != self.me and (user in known.heroes or user == partner):
                    known.members[user] = [content.get("displayname") or user,
                                           content.get("avatar_url") or ""]
        profile = known.members.get(partner or "", [partner or "", ""])
        if known.name:
            name = known.name
        elif partner:
            name = profile[0]
        else:
            name = ", ".join(known.members.get(h, [h])[0] for h in known.heroes) or room_id
        return {"conversationID": conv, "showName": name,
                "faceUrl": known.avatar or (profile[1] if partner else ""),
                "recvOpt": 2 if room_id in self.muted else 0}

    def _timeline_event(self, room_id: str, conv: str, event: Mapping[str, Any],
                        messages: List[Dict[str, Any]],
                        batch: Dict[str, Dict[str, Any]]) -> Generator[_Step, Any, None]:
        kind, content = event.get("type"), event.get("content", {})
        if kind == "m.room.redaction":
            target = event.get("redacts") or content.get("redacts")
            original = yield from self._original(room_id, conv, target, batch)
            if original is not None:
                messages.append({**original, "status": 6, "text": ""})
            return
        if kind not in _MESSAGE_TYPES or "state_key" in event:
            return
        relation = content.get("m.relates_to") or {}
        if relation.get("rel_type") == "m.replace":
            original = yield from self._original(room_id, conv, relation.get("event_id"), batch,
                                                 fetch=False)
            if original is not None:
                new = content.get("m.new_content", {})
                messages.append({**original, "text": new.get("body", ""), "edited": True})
            return
        redacted = "redacted_because" in event.get("unsigned", {})
        sender = event.get("sender", "")
        message: Dict[str, Any] = {
            "conversationID": conv, "msgID": event["event_id"],
            "timestampMs": event.get("origin_server_ts", 0), "sender": sender,
            "isSelf": sender == self.me, "text": "" if redacted else content.get("body", ""),
            "matrixType": kind}
        if redacted:
            message["status"] = 6
        if self.engine_counts:
            if room_id in self.muted:
                message["countsAsUnread"] = False
            message["atType"] = _mentions(content, self.me)
        else:
            message["countsAsUnread"] = False
        batch[message["msgID"]] = message
        messages.append(message)

    def _original(self, room_id: str, conv: str, event_id: Optional[str],
                  batch: Dict[str, Dict[str, Any]],
                  fetch: bool = True) -> Generator[_Step, Any, Optional[Dict[str, Any]]]:
        """The message an edit or redaction names: from this sync, else the
        conversation's last message, else (redactions, when imconv counts)
        the server's copy of the event."""
        if not event_id:
            return None
        if event_id in batch:
            return batch[event_id]
        last = yield _Call("get_conversation", (conv,))
        m = getattr(last, "last_message", None)
        if m is not None and m.msg_id == event_id:
            original: Dict[str, Any] = json.loads(m.json)
            return original
        if not (fetch and self.engine_counts):
            return None
        try:
            event = yield _Http("GET", f"/rooms/{quote(room_id)}/event/{quote(event_id)}")
        except Exception:
            return None  # gone, or never visible to this user
        return {"conversationID": conv, "msgID": event_id,
                "timestampMs": event.get("origin_server_ts", 0),
                "sender": event.get("sender", ""), "isSelf": event.get("sender") == self.me}

    def _own_receipt(self, ephemeral: List[Mapping[str, Any]]) -> Optional[str]:
        """The event this user's newest read receipt names, if any."""
        newest: Tuple[int, Optional[str]] = (-1, None)
        for event in ephemeral:
            if event.get("type") != "m.receipt":
                continue
            for event_id, kinds in event.get("content", {}).items():
                for kind in ("m.read", "m.read.private"):
                    mine = kinds.get(kind, {}).get(self.me)
                    if mine is not None and mine.get("ts", 0) > newest[0]:
                        newest = (mine.get("ts", 0), event_id)
        return newest[1]

    @staticmethod
    def _marks(event: Mapping[str, Any]) -> List[Tuple[int, bool]]:
        content = event.get("content", {})
        if event.get("type") == "m.tag":
            return [(int(Mark.FOLD), "m.lowpriority" in content.get("tags", {}))]
        if event.get("type") in ("m.marked_unread", "com.famedly.marked_unread"):
            return [(int(Mark.UNREAD), bool(content.get("unread")))]
        return []


class MatrixSync:
    """Drives a blocking `Sdk` from a homeserver's `/sync`.

    `user_id` is the Matrix user (`@me:server`; asked from the server when
    omitted). `state_path`: where the sync token and what the adapter
    remembers are kept between runs (None: nowhere, each start is an
    initial sync). `count_unread`: "server" (default) or "engine".
    `timeline_limit`: events per room and sync."""

    def __init__(self, sdk: Sdk, homeserver: str, access_token: str, *,
                 user_id: Optional[str] = None, state_path: Optional[str] = None,
                 count_unread: str = "server", timeline_limit: int = 50,
                 transport: Optional[Transport] = None) -> None:
        self.sdk = sdk
        self.transport: Transport = transport or HttpxTransport(homeserver, access_token)
        if user_id is None:
            user_id = str(self.transport.request("GET", "/account/whoami")["user_id"])
        self._engine = _Engine(user_id, count_unread, timeline_limit, state_path)

    def sync_once(self, timeout_ms: int = 0) -> SyncReport:
        """One `/sync` (waiting up to `timeout_ms` for news), applied and
        committed when it returns."""
        return _drive(self._engine.steps(timeout_ms, SyncReport()), self._run)

    def run(self, should_stop: Callable[[], bool] = lambda: False,
            timeout_ms: int = 30000) -> None:
        """Syncs until `should_stop()` is true (checked between syncs)."""
        while not should_stop():
            self.sync_once(timeout_ms)

    def _run(self, step: _Step) -> Any:
        if isinstance(step, _Http):
            return self.transport.request(step.method, step.path, step.params, step.timeout_s)
        return getattr(self.sdk, step.name)(*step.args)


class AsyncMatrixSync:
    """`MatrixSync` for an `AsyncSdk`: the same mapping; the transport's
    blocking requests run in a worker thread, imconv's calls on the loop."""

    def __init__(self, sdk: AsyncSdk, homeserver: str, access_token: str, *,
                 user_id: Optional[str] = None, state_path: Optional[str] = None,
                 count_unread: str = "server", timeline_limit: int = 50,
                 transport: Optional[Transport] = None) -> None:
        self.sdk = sdk
        self.transport: Transport = transport or HttpxTransport(homeserver, access_token)
        self._user_id = user_id
        self._options = (count_unread, timeline_limit, state_path)
        self._engine: Optional[_Engine] = None

    async def sync_once(self, timeout_ms: int = 0) -> SyncReport:
        """See `MatrixSync.sync_once`."""
        import asyncio
        if self._engine is None:
            if self._user_id is None:
                whoami = await asyncio.to_thread(self.transport.request, "GET", "/account/whoami")
                self._user_id = str(whoami["user_id"])
            self._engine = _Engine(self._user_id, *self._options)
        steps = self._engine.steps(timeout_ms, SyncReport())
        result: Any = None
        error: Optional[BaseException] = None
        while True:
            step, report = _advance(steps, result, error)
            if step is None:
                return report
            result, error = None, None
            try:
                if isinstance(step, _Http):
                    result = await asyncio.to_thread(self.transport.request, step.method,
                                                     step.path, step.params, step.timeout_s)
                else:
                    result = await getattr(self.sdk, step.name)(*step.args)
            except Exception as e:
                error = e

    async def run(self, should_stop: Callable[[], bool] = lambda: False,
                  timeout_ms: int = 30000) -> None:
        """See `MatrixSync.run`."""
        while not should_stop():
            await self.sync_once(timeout_ms)


def _advance(steps: Generator[_Step, Any, SyncReport], result: Any,
             error: Optional[BaseException]) -> Tuple[Optional[_Step], SyncReport]:
    """The next step, given the last one's result (or its error, thrown in
    so that the mapping can report the failure); None and the report once
    the sync is done."""
    try:
        return (steps.throw(error) if error is not None else steps.send(result)), SyncReport()
    except StopIteration as done:
        return None, done.value


def _drive(steps: Generator[_Step, Any, SyncReport], run: Callable[[_Step], Any]) -> SyncReport:
    """Runs the steps one by one with `run`."""
    result: Any = None
    error: Optional[BaseException] = None
    while True:
        step, report = _advance(steps, result, error)
        if step is None:
            return report
        result, error = None, None
        try:
            result = run(step)
        except Exception as e:
            error = e


__all__ = ["MatrixSync", "AsyncMatrixSync", "SyncReport", "Transport", "HttpxTransport"]
