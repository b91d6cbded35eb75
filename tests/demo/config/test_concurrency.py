"""A burst of requests enters Django a few at a time; the rest wait in the event loop."""

import asyncio
import threading

from asgiref.sync import ThreadSensitiveContext, sync_to_async

from config.concurrency import ConcurrencyLimit


async def test_a_burst_of_requests_never_has_more_than_the_limit_in_django_and_all_finish(
    settings,
):
    settings.REQUEST_CONCURRENCY = 4
    inside, most, finished = 0, 0, []
    full, release = asyncio.Event(), asyncio.Event()

    async def django(scope, receive, send):
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        if inside == 4:
            full.set()
        await release.wait()
        inside -= 1
        finished.append(scope["n"])

    limited = ConcurrencyLimit(django)
    burst = [
        asyncio.create_task(limited({"type": "http", "path": "/", "n": n}, None, None))
        for n in range(50)
    ]
    await asyncio.wait_for(full.wait(), 5)
    await asyncio.sleep(0.05)  # room for a fifth to enter, were the limit not kept
    release.set()
    await asyncio.wait_for(asyncio.gather(*burst), 5)

    assert most == 4
    assert finished[:4] == [0, 1, 2, 3] and sorted(finished) == list(range(50))


async def test_a_burst_of_password_checks_takes_turns_of_its_own_and_never_the_shops(settings):
    settings.REQUEST_CONCURRENCY, settings.PASSWORD_CONCURRENCY = 2, 1
    hashing, most, checked = 0, 0, asyncio.Event()

    async def django(scope, receive, send):
        nonlocal hashing, most
        if scope["path"] == "/api/auth/token":
            hashing += 1
            most = max(most, hashing)
            await checked.wait()
            hashing -= 1

    limited = ConcurrencyLimit(django)
    logins = [
        asyncio.create_task(limited({"type": "http", "path": "/api/auth/token"}, None, None))
        for _ in range(10)
    ]
    await asyncio.sleep(0.05)  # room for the logins to take every turn, were they shared

    for path in ("/api/items", "/api/items/1/purchase", "/"):
        await asyncio.wait_for(limited({"type": "http", "path": path}, None, None), 5)
    assert most == 1
    checked.set()
    await asyncio.wait_for(asyncio.gather(*logins), 5)


async def test_requests_run_their_sync_code_on_a_few_threads_kept_for_them_not_one_each(settings):
    settings.REQUEST_CONCURRENCY, settings.REQUESTS_SHARE_SYNC_THREAD = 4, False
    threads = []

    async def django(scope, receive, send):
        # What Django's ASGI handler does: a context of the request's own for its sync code.
        async with ThreadSensitiveContext():
            threads.append(await sync_to_async(threading.get_ident)())

    limited = ConcurrencyLimit(django)
    await asyncio.wait_for(
        asyncio.gather(*(limited({"type": "http", "path": "/"}, None, None) for _ in range(50))),
        5,
    )

    assert len(threads) == 50
    assert 1 <= len(set(threads)) <= 4
    assert threading.get_ident() not in threads
