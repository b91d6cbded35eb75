"""The sweep's jobs on a timer: a job that fails (the mail server is down) is tried less and
less often and logged once, and the log says when it works again."""

import asyncio
import itertools
import logging

import pytest

from stockwire import sweep

INTERVAL = 0.01  # seconds between sweeps, as HOLD_SWEEP_SECONDS


@pytest.fixture
def quick_sweeps(settings):
    settings.STOCKWIRE = {**settings.STOCKWIRE, "HOLD_SWEEP_SECONDS": INTERVAL}


async def test_a_failing_job_is_tried_less_and_less_often_logged_once_and_its_recovery_said(
    quick_sweeps, monkeypatch, caplog
):
    tries: list[float] = []
    loop = asyncio.get_running_loop()

    def emails() -> int:
        tries.append(loop.time())
        if len(tries) <= 5:
            raise ConnectionRefusedError("the mail server is down")
        return 1

    monkeypatch.setattr(sweep, "_jobs", lambda: [("back-in-stock emails", emails)])
    with caplog.at_level(logging.WARNING, logger="stockwire.sweep"):
        running = asyncio.ensure_future(sweep.Sweep().run())
        try:
            deadline = loop.time() + 20
            while "works again" not in caplog.text:
                assert loop.time() < deadline, tries
                await asyncio.sleep(INTERVAL)
        finally:
            running.cancel()

    # After each failure the wait doubles: 2, 4, 8 and 16 sweeps at least between the five
    # failed tries (a busy machine only makes the waits longer).
    gaps = [later - earlier for earlier, later in itertools.pairwise(tries[:5])]
    assert all(gap >= INTERVAL * 2**n * 0.9 for n, gap in enumerate(gaps, start=1)), gaps
    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is not None
    assert "back-in-stock emails works again" in caplog.text
