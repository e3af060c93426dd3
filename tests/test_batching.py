"""container/batching.Batched, the hand-off behind the request log and the metrics: nothing added is
lost or written twice, a failing write does not stop the next, and a writer that falls behind drops
(and counts) instead of growing without bound. The server-level guarantees (SIGTERM, sums) are in
tests/test_metrics_aggregated.py."""

from __future__ import annotations

import threading

import pytest

from sdxl_inf2.container import batching
from sdxl_inf2.container.batching import Batched


def test_items_from_many_threads_are_written_once_in_order_on_close() -> None:
    written: list[tuple[int, int]] = []
    batched: Batched[tuple[int, int]] = Batched("test", written.extend, interval_s=60)  # only close writes

    def add(thread: int) -> None:
        for n in range(5000):
            batched.add((thread, n))

    threads = [threading.Thread(target=add, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert written == []
    batched.close()
    assert sorted(written) == [(t, n) for t in range(4) for n in range(5000)]
    for t in range(4):  # each thread's items in the order it added them
        assert [n for thread, n in written if thread == t] == list(range(5000))


def test_a_failing_write_is_logged_and_the_next_batch_still_written(caplog: pytest.LogCaptureFixture) -> None:
    written: list[int] = []

    def write(batch: list[int]) -> None:
        if batch == [1]:
            raise ValueError("bad batch")
        written.extend(batch)

    batched: Batched[int] = Batched("test", write, interval_s=60)
    batched.add(1)
    assert batched.flush() == 1 and "could not write 1 items" in caplog.text
    batched.add(2)
    batched.close()
    assert written == [2]


def test_beyond_the_bound_items_are_dropped_and_counted(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(batching, "MAX_PENDING", 10)
    written: list[int] = []
    batched: Batched[int] = Batched("test", written.extend, interval_s=60)
    for n in range(25):
        batched.add(n)
    batched.close()
    assert written == list(range(10))
    assert "test: 15 items dropped" in caplog.text


def test_write_empty_hands_the_writer_every_interval_even_with_nothing_added() -> None:
    """The metrics' heartbeat writes something of its own each second: an empty batch still calls it."""
    calls: list[list[int]] = []
    quiet: Batched[int] = Batched("test", calls.append, interval_s=60)
    assert quiet.flush() == 0 and calls == []  # by default an empty batch is not written
    beating: Batched[int] = Batched("test", calls.append, interval_s=60, write_empty=True)
    assert beating.flush() == 0 and calls == [[]]
    beating.add(7)
    beating.close()
    quiet.close()
    assert [item for batch in calls for item in batch] == [7] and calls[1] == [7]  # written once, in turn
