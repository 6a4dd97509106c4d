"""Progress events, and the GIL released while the library works."""

from __future__ import annotations

import io
import threading
import time

import numpy as np

import sgdstab
from sgdstab._progress import StderrProgress


class Recorder:
    def __init__(self):
        self.events = []

    def begin(self, label, total):
        self.events.append(("begin", label, total))

    def advance(self, steps, message):
        self.events.append(("advance", steps, message))

    def end(self):
        self.events.append(("end",))


def phases(events):
    """[(label, total, steps done)] per phase."""
    out = []
    for e in events:
        if e[0] == "begin":
            out.append([e[1], e[2], 0])
        elif e[0] == "advance":
            out[-1][2] += e[1]
    return [tuple(p) for p in out]


def test_progress_events_reach_the_python_object(small):
    rec = Recorder()
    sgdstab.analyze(small, 0.05, 3, orders=(1, 2, 3), progress=rec)
    assert rec.events[0] == ("begin", "analyze", 5)  # max k + 2 steps
    assert rec.events[-1] == ("end",)
    assert phases(rec.events) == [("analyze", 5, 5)]
    rec = Recorder()
    sgdstab.diagram(small, orders=(1, 2), batches=(1, 2, 5), progress=rec)
    assert phases(rec.events) == [("diagram", 3, 3)]


def test_stderr_lines_when_tqdm_is_absent(small):
    out = io.StringIO()
    sgdstab.analyze(small, 0.05, 3, progress=StderrProgress(out, interval=0.0))
    lines = out.getvalue().splitlines()
    assert lines[0] == "sgdstab: analyze: 0/4"
    assert lines[-1] == "sgdstab: analyze: done (4/4)"


def test_progress_true_prints_something(small, capsys):
    sgdstab.analyze(small, 0.05, 3, progress=True)
    assert "analyze" in capsys.readouterr().err


def test_the_gil_is_released_during_the_computation(rng):
    # a run of a few hundred milliseconds in a thread; the main thread keeps running Python
    A = rng.standard_normal((60, 24))
    start = time.perf_counter()
    sgdstab.analyze(A, 0.01, 5, orders=(1, 2))
    single = time.perf_counter() - start
    box = {}
    worker = threading.Thread(target=lambda: box.setdefault("r", sgdstab.analyze(A, 0.01, 5, orders=(1, 2))))
    ticks = 0
    worker.start()
    t0 = time.perf_counter()
    while worker.is_alive():
        ticks += 1
        time.sleep(0.001)
    elapsed = time.perf_counter() - t0
    worker.join()
    assert box["r"].orders[1].k == 2
    # with the GIL held for the whole call the loop would not run at all meanwhile
    assert ticks >= max(3, int(0.2 * elapsed / 0.001)), (ticks, elapsed, single)


def test_concurrent_calls_give_identical_reports(small):
    out = [None] * 4
    def work(i):
        out[i] = sgdstab.analyze(small, 0.05, 3).to_json()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == 1
    assert out[0] == sgdstab.analyze(small, 0.05, 3).to_json()
    assert np.isfinite(small).all()
