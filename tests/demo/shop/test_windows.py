"""Counts in windows of time (shop/windows.py), on the cache of this pass of `make test`:
in memory in the first, Redis in the second."""

import time
import uuid

import pytest
from django.core.cache import cache

from shop import windows


@pytest.fixture
def key():
    return f"test-window-{uuid.uuid4().hex[:8]}"


def test_counts_add_up_in_one_window_and_say_how_long_it_has_left(key):
    assert [windows.count(cache, key, 60)[0] for _ in range(3)] == [1, 2, 3]
    count, left = windows.read(cache, [key], 60)[key]
    assert count == 3 and 58 <= left <= 60


def test_a_key_never_counted_reads_as_no_window(key):
    assert windows.read(cache, [key, f"{key}-other"], 60) == {key: (0, 0), f"{key}-other": (0, 0)}


def test_the_window_opened_by_the_first_count_ends_whatever_came_after(key):
    windows.count(cache, key, 1)
    deadline = time.monotonic() + 5
    while windows.read(cache, [key], 1)[key][0]:
        windows.count(cache, key, 1)  # counting in a window does not make it last longer
        assert time.monotonic() < deadline, "the window never ended"
        time.sleep(0.05)
    assert windows.count(cache, key, 1)[0] == 1
