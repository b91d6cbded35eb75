"""Django's ASGI handler, with each request's sync work done in one trip to its thread.

Django's own handler runs the middleware in async mode and crosses between the event loop and
the request's thread five times for a request to a sync view: the request_started signal's
receivers, the middleware below the one sync-only middleware (WhiteNoise), back to the loop
for the URL and the view, to the thread for the view, and once more for the request_finished
signal when the response closes. Here the middleware chain is built as under WSGI and one
trip to the thread does all of it, as a WSGI server would: the signal, the request, the
middleware, the view, and closing a response that is already whole (request_finished).
A streaming response (a static file) is closed after it is sent, as Django does.

What a request to an async view loses is Django's cancelling the view when its client goes
away: the demo's async views (/healthz, /readyz, /metrics) are short. Optional: with
REQUESTS_IN_ONE_TRIP=false (config/settings.py), Django's own handler serves.
"""

import django
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse
from django.urls import set_script_prefix


def get_asgi_application() -> ASGIHandler:
    """Django's get_asgi_application(), with the handler REQUESTS_IN_ONE_TRIP chooses."""
    django.setup(set_prefix=False)
    return OneTripASGIHandler() if settings.REQUESTS_IN_ONE_TRIP else ASGIHandler()


class OneTripASGIHandler(ASGIHandler):
    def load_middleware(self, is_async=False):
        # The chain in sync mode, as under WSGI: no trip to the event loop between middleware.
        super().load_middleware(is_async=False)

    async def handle(self, scope, receive, send):
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        response = await sync_to_async(self._respond, thread_sensitive=True)(scope, body_file)
        try:
            await self.send_response(response, send)
        finally:
            if response.streaming:
                await sync_to_async(response.close, thread_sensitive=True)()
            body_file.close()

    def _respond(self, scope, body_file):
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            response = error_response
        else:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):  # the server chunks it, as in Django's
                response.block_size = self.chunk_size
        if not response.streaming:
            response.close()
        return response
