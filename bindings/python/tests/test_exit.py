"""No abort at interpreter exit: instances left open while callbacks run
are closed before the interpreter finalizes (a callback into a finalizing
interpreter ends its thread with a forced unwind, and glibc aborts the
process when that unwind is caught). Each case runs 20 times."""
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import List, Tuple

import pytest

RUNS = 20

KEPT_PAST_ASYNCIO_RUN = """
import asyncio, imconv
kept = []
async def main():
    sdk = imconv.AsyncSdk("me")
    kept.append(sdk)
    await sdk.import_conversations([{"conversationID": f"c2c_u{i}"} for i in range(2000)])
    # Calls still in flight when the loop ends: their answers come at exit.
    for i in range(50):
        asyncio.ensure_future(sdk.get_conversation(f"c2c_u{i}"))
        asyncio.ensure_future(sdk.apply_messages([{"conversationID": "c2c_u1",
                                                   "msgID": f"m{i}", "timestamp": i + 1}]))
    sub = sdk.add_listener(on_changed=lambda cs: None)
asyncio.run(main())
print("done")
"""

DAEMON_THREAD = """
import threading, time, imconv
imconv.route_log_to_logging(imconv.LogLevel.DEBUG)
sdk = imconv.Sdk("me")
sdk.import_conversations([{"conversationID": "c2c_a"}])
in_callback = threading.Event()
def on_changed(conversations):
    in_callback.set()
    for _ in range(400):  # still inside when the main thread exits, taking
        time.sleep(0.0005)  # the GIL again and again while it finalizes
sdk.add_listener(on_changed=on_changed)
def worker():
    i = 0
    try:
        while True:
            i += 1
            sdk.apply_messages([{"conversationID": "c2c_a", "msgID": f"m{i}", "timestamp": i}])
            sdk.get_conversation("c2c_a")
    except imconv.ShutdownError:
        pass
threading.Thread(target=worker, daemon=True).start()
in_callback.wait()
print("done")
"""

#: A threaded app as a new user writes it: daemon threads calling a blocking
#: Sdk in a loop, catching nothing. 0.3.0 printed a ShutdownError traceback
#: per thread at exit (4 to 67 lines of stderr a run).
DAEMON_THREADS_NOT_CATCHING = """
import threading, imconv
sdk = imconv.Sdk("me")
sdk.import_conversations([{"conversationID": "c2c_a"}])
started = threading.Barrier(5)
def worker(n):
    started.wait()
    i = 0
    while True:
        i += 1
        sdk.apply_messages([{"conversationID": "c2c_a", "msgID": f"m{n}-{i}", "timestamp": i}])
        sdk.get_conversation("c2c_a")
for n in range(4):
    threading.Thread(target=worker, args=(n,), daemon=True).start()
started.wait()
print("done")
"""

SIGINT_WITH_OPEN_ASYNC_SDK = """
import asyncio, sys, imconv
async def main():
    sdk = imconv.AsyncSdk("me")
    await sdk.import_conversations([{"conversationID": "c2c_a"}])
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        await sdk.apply_messages([{"conversationID": "c2c_a", "msgID": f"m{i}", "timestamp": i}])
asyncio.run(main())
"""


def run(script: str, interrupt: bool) -> Tuple[int, str]:
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    if interrupt:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready"
        p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    return p.returncode, err


def twenty(script: str, interrupt: bool = False) -> List[Tuple[int, str]]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda _: run(script, interrupt), range(RUNS)))


#: The library alone: with the exit handler taken out, the callback thread
#: that enters the finalizing interpreter is ended by a forced unwind, which
#: the library lets pass (aborted 20 runs of 20 when it caught it).
WITHOUT_EXIT_HANDLER = ("import atexit, imconv._instance as i\n"
                        "atexit.unregister(i._close_all_at_exit)\n" + DAEMON_THREAD)


@pytest.mark.parametrize("script", [KEPT_PAST_ASYNCIO_RUN, DAEMON_THREAD, WITHOUT_EXIT_HANDLER],
                         ids=["async-sdk-kept-past-asyncio-run", "daemon-thread",
                              "daemon-thread-without-the-exit-handler"])
def test_exit_is_clean(script: str) -> None:
    outcomes = twenty(script)
    bad = [(rc, err[-400:]) for rc, err in outcomes if rc != 0 or "FATAL" in err]
    assert bad == [], f"{len(bad)} of {RUNS} runs did not exit cleanly: {bad[:2]}"


def test_daemon_threads_left_calling_print_nothing_at_exit() -> None:
    outcomes = twenty(DAEMON_THREADS_NOT_CATCHING)
    bad = [(rc, err[-400:]) for rc, err in outcomes if rc != 0 or err.strip()]
    assert bad == [], f"{len(bad)} of {RUNS} runs printed to stderr or failed: {bad[:2]}"


def test_sigint_with_an_open_async_sdk() -> None:
    outcomes = twenty(SIGINT_WITH_OPEN_ASYNC_SDK, interrupt=True)
    # Killed by SIGINT after KeyboardInterrupt (the shell's 130); never SIGABRT.
    bad = [(rc, err[-400:]) for rc, err in outcomes
           if rc not in (-signal.SIGINT, 130) or "FATAL" in err]
    assert bad == [], f"{len(bad)} of {RUNS} runs did not exit cleanly: {bad[:2]}"
    assert all("KeyboardInterrupt" in err for _, err in outcomes)
