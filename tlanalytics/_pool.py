"""A small thread pool whose workers never hold up an interrupted program.

``concurrent.futures.ThreadPoolExecutor`` joins its (non-daemon) workers at
interpreter exit, so a Ctrl+C during a request to a slow server still waits
for that request: the CLI printed "interrupted" 23 s late. Here workers are
daemon threads and :meth:`Pool.shutdown` does not wait by default: requests in
flight are abandoned (their operation's cancel event stops them at the next
check) instead of awaited.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

__all__ = ["Completions", "Pool"]


class Pool:
    """``submit`` and ``shutdown`` like ThreadPoolExecutor, with daemon workers started on demand."""

    def __init__(self, max_workers, name="tlanalytics"):
        self._max, self._name = max_workers, name
        self._queue = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._threads = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn, *args):
        """Run ``fn(*args)`` on a worker; returns its Future."""
        fut = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit to a pool that was shut down")
            self._queue.put((fut, fn, args))
            if not self._idle.acquire(blocking=False) and len(self._threads) < self._max:
                t = threading.Thread(target=self._work, name=f"{self._name}_{len(self._threads)}", daemon=True)
                t.start()
                self._threads.append(t)
        return fut

    def _work(self):
        while True:
            job = self._queue.get()
            if job is None:
                return
            fut, fn, args = job
            if fut.set_running_or_notify_cancel():
                try:
                    result = fn(*args)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller through the Future
                    fut.set_exception(exc)
                else:
                    fut.set_result(result)
                del fut, fn, args, job
            self._idle.release()

    def shutdown(self, wait=False, cancel_futures=True):
        """Stop accepting work, cancel queued jobs, and (only when ``wait``) join the workers."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        while cancel_futures:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job[0].cancel()
        for _ in threads:
            self._queue.put(None)
        if wait:
            for t in threads:
                t.join()


class Completions:
    """The futures of one operation, handed back as they finish: O(1) per result however many are pending.

    ``concurrent.futures.wait(pending, return_when=FIRST_COMPLETED)`` locks and
    unlocks every pending future on each call, so collecting n results one
    wake-up at a time costs O(n²): with 5,000 status requests queued, the
    waiting thread spent more CPU than all the requests together (about 7 s of
    the 10 s an enrichment took). Here each watched future puts itself in a
    queue when it finishes (or is cancelled).
    """

    def __init__(self):
        self._done = queue.SimpleQueue()

    def watch(self, fut):
        """Hand ``fut`` back from :meth:`wait` once it finishes; returns ``fut``."""
        fut.add_done_callback(self._done.put)
        return fut

    def wait(self, timeout):
        """Every watched future finished since the last call, waiting up to ``timeout`` seconds for the first.

        An empty list when none finished in time.
        """
        try:
            out = [self._done.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                out.append(self._done.get_nowait())
            except queue.Empty:
                return out
