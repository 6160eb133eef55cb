"""A small sampling profiler for bench servers (py-spy is not installed here): every ``interval`` seconds a
daemon thread reads every other thread's stack (``sys._current_frames``) and counts, per function, the
samples it was on a stack (inclusive) and on top of one (self). Idle threads (a pool thread waiting for work,
the event loop in its selector, a background thread between rounds: :data:`IDLE`) are left out; a thread
blocked on a lock or on another thread's answer inside a request is counted, so the shares are of the
wall-clock time threads spent on requests, like ``py-spy record --idle`` without the idle pool.

    sampler = Sampler(); sampler.start(); ...; sampler.stop(); print(sampler.report(25))
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from types import FrameType

# (function, caller) pairs that mean "this thread has nothing to do".
IDLE = {("Queue.get", "WorkerThread.run"), ("EpollSelector.select", "BaseEventLoop._run_once"),
        ("Event.wait", "UsageRecorder._run"), ("ReadBatcher._run", "Thread.run")}


STACK_DEPTH = 14


def _short(frame: FrameType) -> str:
    return frame.f_code.co_qualname


def _idle(frame: FrameType) -> bool:
    current: FrameType | None = frame
    for _ in range(4):  # the waiting call may sit a few frames below the loop that waits
        if current is None or current.f_back is None:
            return False
        if (_short(current), _short(current.f_back)) in IDLE:
            return True
        current = current.f_back
    return False


def _name(frame: FrameType) -> str:
    code = frame.f_code
    path = code.co_filename
    for marker in ("site-packages/", "/dashboard/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{code.co_qualname} ({path}:{code.co_firstlineno})"


class Sampler:
    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.inclusive: Counter[str] = Counter()
        self.own: Counter[str] = Counter()
        self.stacks: Counter[tuple[str, ...]] = Counter()  # the innermost frames of each sample
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = threading.get_ident()
        while not self._stop.wait(self.interval):
            for ident, frame in sys._current_frames().items():
                if ident == me or _idle(frame):
                    continue
                self.samples += 1
                self.own[_name(frame)] += 1
                seen: list[str] = []
                current: FrameType | None = frame
                while current is not None:
                    seen.append(_name(current))
                    current = current.f_back
                self.inclusive.update(set(seen))
                self.stacks[tuple(seen[:STACK_DEPTH])] += 1

    def report(self, top: int = 30) -> str:
        total = max(1, self.samples)
        lines = [f"# {self.samples} thread samples at {self.interval * 1000:g} ms ({time.strftime('%H:%M:%S')})",
                 "# inclusive"]
        lines += [f"{n / total * 100:5.1f}% {name}" for name, n in self.inclusive.most_common(top)]
        lines.append("# self")
        lines += [f"{n / total * 100:5.1f}% {name}" for name, n in self.own.most_common(top)]
        lines.append(f"# innermost {STACK_DEPTH} frames of the most frequent stacks")
        for stack, n in self.stacks.most_common(8):
            lines.append(f"{n / total * 100:5.1f}% " + " <- ".join(stack))
        return "\n".join(lines) + "\n"
