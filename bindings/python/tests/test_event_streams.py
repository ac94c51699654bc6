"""`AsyncSdk.events()` streams end when their reader stops, and a reader
that falls behind loses the oldest events, told by a "gap" event
(issue 25, item 9: 0.3.0 kept every stream registered with an unbounded
queue: 10,001 events after 5,000 writes, after its reader had gone)."""
import asyncio
import gc
from typing import List

import imconv
from imconv import NewMessage, _calls


def listeners() -> int:
    with _calls._lock:
        return len(_calls._listeners)


def write_many(n: int) -> List[NewMessage]:
    return [NewMessage(f"c2c_{i % 7}", f"m{i}", 1_700_000_000 + i) for i in range(n)]


def test_a_break_out_of_the_loop_ends_the_stream() -> None:
    async def main() -> None:
        async with imconv.AsyncSdk("me") as sdk:
            before = listeners()
            write = asyncio.ensure_future(sdk.apply_messages(write_many(1)))
            async for event in sdk.events():
                assert event.kind == "new"
                break
            await write
            await sdk.apply_messages(write_many(1))  # nothing reads it
            gc.collect()
            await asyncio.sleep(0)  # the removal runs on the loop
            assert listeners() == before

    asyncio.run(main())


def test_a_stream_whose_task_returned_is_collected_and_detached() -> None:
    async def main() -> None:
        async with imconv.AsyncSdk("me") as sdk:
            before = listeners()

            async def reader() -> str:
                events = sdk.events()
                await sdk.apply_messages(write_many(1))
                async for event in events:
                    return event.kind
                return ""

            assert await reader() == "new"
            gc.collect()
            await asyncio.sleep(0)
            assert listeners() == before
            for _ in range(50):  # 5,000 writes queue nothing anywhere
                await sdk.apply_messages(write_many(100))
            assert listeners() == before

    asyncio.run(main())


def test_a_cancelled_reader_ends_its_stream() -> None:
    async def main() -> None:
        async with imconv.AsyncSdk("me") as sdk:
            before = listeners()
            stream = sdk.events()
            assert listeners() == before + 1

            async def reader() -> None:
                async for _ in stream:
                    pass

            task = asyncio.ensure_future(reader())
            await asyncio.sleep(0)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            assert listeners() == before
            await sdk.apply_messages(write_many(3))
            assert [e async for e in stream] == []

    asyncio.run(main())


def test_a_reader_that_falls_behind_sees_a_gap_then_the_newest() -> None:
    async def main() -> None:
        async with imconv.AsyncSdk("me") as sdk:
            async with sdk.events(max_queued=4) as events:
                # One write a call: each raises "new" or "changed", then
                # "total_unread": 2 events a write.
                for i in range(10):
                    await sdk.apply_messages([NewMessage("c2c_a", f"m{i}", 1_700_000_000 + i)])
                first = await events.__anext__()
                assert first.kind == "gap" and first.total == 16
                rest = [await events.__anext__() for _ in range(4)]
                assert [e.kind for e in rest] == ["changed", "total_unread"] * 2
                assert rest[-1].total == 10
            # Leaving the block removed its listener.
            assert [e async for e in events] == []

    asyncio.run(main())


def test_max_queued_must_be_positive() -> None:
    async def main() -> None:
        async with imconv.AsyncSdk("me") as sdk:
            try:
                sdk.events(max_queued=0)
            except ValueError as e:
                assert "max_queued must be at least 1" in str(e)
            else:
                raise AssertionError("max_queued=0 was taken")

    asyncio.run(main())
