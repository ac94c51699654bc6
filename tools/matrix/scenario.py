"""The Matrix adapter against a live Synapse (`make test-matrix`).

Three users (alice is imconv's user, with a second device; bob; carol), a
DM and groups: named, unnamed (heroes), muted, busy (more messages than a
timeline holds) and one alice leaves. Mentions, edits, redactions, receipts
from the second device, a favourite, a low-priority tag, a room marked
unread, a rename. Two
imconv instances follow alice, one taking the server's counts and one
counting itself; after each round both lists are compared with what the
server reports in a fresh full sync of alice's: the set of conversations,
their order, unread counts, last messages (edited text, revoked), @, pins,
folds, mutes and names. Exit status 0 when everything matches.

    python scenario.py [--record DIR]   (inside the venv with matrix-synapse)
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import quote

from homeserver import Client, Synapse

import imconv
from imconv.matrix import HttpxTransport, MatrixSync

LIMIT = 10  # the adapters' timeline limit: "busy" overflows it


class Recording(HttpxTransport):
    """The default transport, saving every /sync answer to a folder."""

    def __init__(self, homeserver: str, token: str, folder: Optional[str]) -> None:
        super().__init__(homeserver, token)
        self.folder, self.n = folder, 0

    def request(self, method: str, path: str, params: Any = None, timeout_s: float = 60.0) -> Any:
        answer = super().request(method, path, params, timeout_s)
        if self.folder and path == "/sync":
            self.n += 1
            with open(os.path.join(self.folder, f"sync-{self.n}.json"), "w") as f:
                json.dump(answer, f, indent=1, sort_keys=True)
        return answer


def server_view(device: Client, direct: Dict[str, str]) -> Dict[str, Dict[str, Any]]:
    """What the server says about alice's rooms, as imconv should list them."""
    sync = device.call("GET", "/sync?timeout=0&filter=" + quote(json.dumps(
        {"room": {"timeline": {"limit": 200}}})))
    muted = set()
    for event in sync.get("account_data", {}).get("events", []):
        if event["type"] == "m.push_rules":
            for kind in ("override", "room"):
                for rule in event["content"]["global"].get(kind, []):
                    if rule["rule_id"].startswith("!") and "notify" not in rule["actions"]:
                        muted.add(rule["rule_id"])
    view = {}
    for room_id, room in sync.get("rooms", {}).get("join", {}).items():
        partner = direct.get(room_id)
        conv = f"c2c_{partner}" if partner else f"group_{room_id}"
        last = None
        edits: Dict[str, str] = {}  # original event -> its newest text
        for e in room["timeline"]["events"]:
            relation = e.get("content", {}).get("m.relates_to", {})
            if e["type"] != "m.room.message":
                continue
            if relation.get("rel_type") == "m.replace":
                edits[relation["event_id"]] = e["content"].get("m.new_content", {}).get("body", "")
            else:
                last = e
        text, status = "", 0
        if last is not None:
            text = edits.get(last["event_id"], last["content"].get("body", ""))
            if "redacted_because" in last.get("unsigned", {}):
                text, status = "", 6
        tags, marked_unread = {}, False
        for e in room.get("account_data", {}).get("events", []):
            if e["type"] == "m.tag":
                tags = e["content"].get("tags", {})
            if e["type"] == "m.marked_unread":
                marked_unread = bool(e["content"].get("unread"))
        counts = room.get("unread_notifications", {})
        view[conv] = {
            "unread": counts.get("notification_count", 0), "at": counts.get("highlight_count", 0) > 0,
            "last": (last["event_id"], text, status) if last else None,
            "ts": last["origin_server_ts"] if last else 0,
            "pinned": "m.favourite" in tags, "fold": "m.lowpriority" in tags,
            "marked_unread": marked_unread, "muted": room_id in muted}
    return view


def imconv_view(sdk: imconv.Sdk) -> Tuple[List[str], Dict[str, Dict[str, Any]]]:
    order, view = [], {}
    for c in sdk.iter_conversations():
        order.append(c.conversation_id)
        m = c.last_message
        fields = json.loads(m.json) if m else {}
        view[c.conversation_id] = {
            "unread": c.unread_count, "at": bool(c.group_at_info_list),
            "last": (m.msg_id, fields.get("text", ""), m.status) if m else None,
            "pinned": c.is_pinned, "fold": int(imconv.Mark.FOLD) in c.mark_list,
            "marked_unread": int(imconv.Mark.UNREAD) in c.mark_list,
            "muted": c.recv_opt == imconv.RecvOpt.NOT_NOTIFY, "name": c.show_name}
    return order, view


def compare(label: str, sdk: imconv.Sdk, expected: Dict[str, Dict[str, Any]],
            names: Dict[str, str]) -> int:
    order, got = imconv_view(sdk)
    failures = 0
    if set(got) != set(expected):
        print(f"  {label}: conversations {sorted(got)} != server's {sorted(expected)}")
        return 1
    want_order = sorted(expected, key=lambda c: (not expected[c]["pinned"], -expected[c]["ts"]))
    if order != want_order:
        print(f"  {label}: order {order} != {want_order}")
        failures += 1
    for conv, want in expected.items():
        for key in ("unread", "at", "last", "pinned", "fold", "marked_unread", "muted"):
            if got[conv][key] != want[key]:
                print(f"  {label}: {conv} {key}: imconv {got[conv][key]!r}, server {want[key]!r}")
                failures += 1
        if conv in names and got[conv]["name"] != names[conv]:
            print(f"  {label}: {conv} name: imconv {got[conv]['name']!r}, expected {names[conv]!r}")
            failures += 1
    print(f"  {label}: {len(got)} conversations, {'all match' if not failures else f'{failures} differ'}")
    return failures


def settle(alice: Client) -> None:
    """Synapse counts notifications in the background: wait until a fresh
    sync's counts stop changing."""
    previous = None
    for _ in range(50):
        rooms = alice.call("GET", "/sync?timeout=0").get("rooms", {}).get("join", {})
        now = json.dumps({r: v.get("unread_notifications") for r, v in rooms.items()},
                         sort_keys=True)
        if now == previous:
            return
        previous = now
        time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--record", help="save the adapter's /sync answers here")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="imconv-synapse-")
    server = Synapse(os.path.join(folder, "server"))
    failures = 0
    started = time.monotonic()
    server.start()
    print(f"synapse {server.url} answered after {time.monotonic() - started:.1f} s")
    try:
        alice, bob, carol = (Client(server, u) for u in ("alice", "bob", "carol"))
        alice2 = alice.login_again()
        dm = bob.create_room(invite=[alice.user_id], direct=True)
        team = carol.create_room("Team", invite=[alice.user_id, bob.user_id])
        noise = bob.create_room("Noise", invite=[alice.user_id, carol.user_id])
        old = carol.create_room("Old", invite=[alice.user_id])
        unnamed = bob.create_room(invite=[alice.user_id, carol.user_id])
        busy = carol.create_room("Busy", invite=[alice.user_id])
        for room in (dm, team, noise, old, unnamed, busy):
            alice.join(room)
        for room in (team, noise):
            (bob if room == team else carol).join(room)
        carol.join(unnamed)
        alice.set_direct({bob.user_id: [dm]})
        alice.mute(noise)
        direct = {dm: bob.user_id}

        quick = [bob.say(dm, f"quick {i}") for i in (1, 2, 3)]
        carol.say(team, "hello team")
        mention = carol.say(team, "look at this", mention=alice.user_id)
        gone = carol.say(team, "a typo")
        for i in range(3):
            bob.say(noise, f"noise {i}")
        carol.say(old, "bye")
        bob.say(unnamed, "who is here")
        for i in range(LIMIT + 5):
            carol.say(busy, f"busy {i}")
        settle(alice)

        record = args.record
        if record:
            os.makedirs(record, exist_ok=True)
        runs = []
        for mode in ("server", "engine"):
            sdk = imconv.Sdk(alice.user_id)
            transport = Recording(server.url, alice.token, record if mode == "server" else None)
            runs.append((mode, sdk, MatrixSync(sdk, server.url, alice.token, count_unread=mode,
                                               timeline_limit=LIMIT, transport=transport,
                                               state_path=os.path.join(folder, f"{mode}.json"))))
        names = {f"c2c_{bob.user_id}": "bob", f"group_{team}": "Team",
                 f"group_{unnamed}": "bob, carol"}
        for mode, sdk, adapter in runs:
            report = adapter.sync_once()
            print(f"round 1 ({mode}): {report.rooms} rooms, {report.messages} messages, "
                  f"server {report.server_ms:.0f} ms, imconv {report.imconv_ms:.0f} ms")
            failures += compare(f"round 1 {mode}", sdk, server_view(alice2, direct), names)

        # Round 2: a receipt from the second device on "quick 1", an edit,
        # a redaction, a favourite, a low-priority tag, a rename, a leave.
        alice2.read_receipt(dm, quick[0])
        bob.edit(dm, quick[2], "quick 3, edited")
        carol.redact(team, gone)
        carol.say(team, "one more")
        alice.tag(team, "m.favourite")
        alice.tag(noise, "m.lowpriority")
        alice.mark_unread(busy)
        carol.set_name(team, "Team 2")
        alice.leave(old)
        alice.say(unnamed, "me too")
        settle(alice)
        names[f"group_{team}"] = "Team 2"
        for mode, sdk, adapter in runs:
            report = adapter.sync_once()
            print(f"round 2 ({mode}): {report.rooms} rooms, {report.messages} messages, "
                  f"{report.receipts} receipts, {report.deleted} deleted")
            failures += compare(f"round 2 {mode}", sdk, server_view(alice2, direct), names)

        # Round 3: a restart resumes from the saved token; a receipt on the
        # mention clears the @.
        alice2.read_receipt(team, mention)
        bob.say(dm, "after the restart")
        settle(alice)
        for i, (mode, sdk, adapter) in enumerate(runs):
            again = MatrixSync(sdk, server.url, alice.token, count_unread=mode,
                               timeline_limit=LIMIT,
                               state_path=os.path.join(folder, f"{mode}.json"))
            report = again.sync_once()
            if report.messages != 1:
                print(f"  round 3 {mode}: resumed with {report.messages} messages, expected 1")
                failures += 1
            failures += compare(f"round 3 {mode}", sdk, server_view(alice2, direct), names)
        for _, sdk, _ in runs:
            sdk.close()
        # The guide's example (docs/syncing.md), as written, against this server.
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        readme = subprocess.run(
            [sys.executable, os.path.join(root, "tools", "readme_snippets.py"), "--needs",
             "synapse", root, os.path.join("docs", "syncing.md")], capture_output=True, text=True,
            env={**os.environ, "MATRIX_HOMESERVER": server.url, "MATRIX_USER": "alice",
                 "MATRIX_PASSWORD": "secret-pw"})
        print(readme.stdout.strip())
        if readme.returncode != 0 or "1 ran" not in readme.stdout:
            print(f"  the guide's Matrix example failed:\n{readme.stderr[-2000:]}")
            failures += 1
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    print("test-matrix:", "passed" if not failures else f"FAILED ({failures} differences)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
