"""The Matrix adapter's figures (`make bench-matrix`): an initial sync of
ROOMS rooms with MESSAGES messages each into an empty imconv, and an
incremental sync of one new message in each room, against a live Synapse
on this machine. Each sync's time is split into the server's (the /sync
request, answered and decoded) and imconv's (mapping and applying it,
committed); medians of RUNS runs, and imconv's share.

    python bench.py ROOMS MESSAGES RUNS   (inside the venv with matrix-synapse)
"""
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from homeserver import Client, Synapse

import imconv
from imconv.matrix import MatrixSync


def main() -> int:
    rooms_n, messages_n, runs = (int(a) for a in sys.argv[1:4])
    folder = tempfile.mkdtemp(prefix="imconv-synapse-bench-")
    server = Synapse(os.path.join(folder, "server"))
    server.start()
    try:
        alice, bob = Client(server, "alice"), Client(server, "bob")
        started = time.monotonic()
        rooms = [bob.create_room(f"room {i}", invite=[alice.user_id]) for i in range(rooms_n)]
        for room in rooms:
            alice.join(room)

        def fill(room: str) -> None:
            sender = Client(server, "bob", register=False)
            for i in range(messages_n):
                sender.say(room, f"message {i} of {room}")

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(fill, rooms))
        print(f"set-up: {rooms_n} rooms, {rooms_n * messages_n} messages in "
              f"{time.monotonic() - started:.0f} s")
        initial, incremental = [], []
        for run in range(runs):
            with imconv.Sdk(alice.user_id) as sdk:
                adapter = MatrixSync(sdk, server.url, alice.token, user_id=alice.user_id,
                                     timeline_limit=messages_n + 20)
                report = adapter.sync_once()
                assert report.rooms == rooms_n, report
                assert report.messages == rooms_n * (messages_n + run), report
                assert sum(1 for _ in sdk.iter_conversations()) == rooms_n
                initial.append((report.server_ms, report.imconv_ms))
                for room in rooms:
                    bob.say(room, f"news {run}")
                report = adapter.sync_once()
                assert report.messages == rooms_n, report
                incremental.append((report.server_ms, report.imconv_ms))
        for label, n, samples in (("initial sync", rooms_n * messages_n, initial),
                                  ("incremental sync", rooms_n, incremental)):
            server_ms = statistics.median(s for s, _ in samples)
            imconv_ms = statistics.median(i for _, i in samples)
            print(f"{label}: {n} messages; server {server_ms:.0f} ms, imconv {imconv_ms:.1f} ms "
                  f"({imconv_ms / server_ms:.2f}x the server's time; "
                  f"{n / imconv_ms * 1000:,.0f} messages/s); medians of {runs}")
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
