"""Each page's events are taken only from that page's own socket, opened by the login session the page was made for.

NiceGUI routes a socket.io message by the client id it names and does not ask which socket sent it: anyone with
a socket could act on another person's page by naming its ids (a viewer's socket opened an editor's Run dialog
and started a run). Here a page takes a handshake only from a socket of its own login session (so of its role),
and events, JavaScript answers, acknowledgements and log lines only from a socket that handshook with it.
"""

from __future__ import annotations

import hmac
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from nicegui import Client, core
from socketio.exceptions import ConnectionRefusedError as SocketRefused

log = logging.getLogger("flowdeck.app")
_FROM_ITS_OWN_SOCKET = ("event", "javascript_response", "ack", "log")


def bind_page_events() -> None:
    """Replace NiceGUI's socket.io handlers with ones that check the sender first (once, before the app starts)."""
    sio = core.sio
    handlers: dict[str, Callable[..., Any]] = sio.handlers["/"]
    if getattr(handlers["event"], "_flowdeck_bound", False):
        return
    connect, handshake = handlers["connect"], handlers["handshake"]

    async def on_connect(sid: str, environ: dict[str, Any], auth: object = None) -> None:
        query = parse_qs(str(environ.get("QUERY_STRING", "")))
        if query.get("implicit_handshake") == ["true"] and not _same_session(query.get("client_id", [""])[0], environ):
            raise SocketRefused("this socket's login is not the page's")
        await connect(sid, environ, auth)

    async def on_handshake(sid: str, data: object) -> bool:
        client_id = data.get("client_id") if isinstance(data, dict) else None
        if not isinstance(client_id, str) or not _same_session(client_id, sio.get_environ(sid)):
            return False
        return bool(await handshake(sid, data))

    sio.on("connect", on_connect)
    sio.on("handshake", on_handshake)
    for name in _FROM_ITS_OWN_SOCKET:
        sio.on(name, _from_own_socket(name, handlers[name]))


def _from_own_socket(name: str, handler: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    """`handler`, for messages naming a client whose page this socket handshook with (its room, in NiceGUI)."""
    sio = core.sio

    def sent_by_its_page(sid: str, msg: object) -> bool:
        if isinstance(msg, dict) and isinstance(msg.get("client_id"), str) and msg["client_id"] in sio.rooms(sid):
            return True
        log.warning("a %s message for another page's client was refused (socket %s)", name, sid)
        return False

    if inspect.iscoroutinefunction(handler):

        async def guarded_async(sid: str, msg: Any) -> Any:
            return await handler(sid, msg) if sent_by_its_page(sid, msg) else None

        guarded: Callable[[str, Any], Any] = guarded_async
    else:

        def guarded_sync(sid: str, msg: Any) -> Any:
            return handler(sid, msg) if sent_by_its_page(sid, msg) else None

        guarded = guarded_sync
    guarded._flowdeck_bound = True  # type: ignore[attr-defined]
    return guarded


def _same_session(client_id: str, environ: Mapping[str, Any] | None) -> bool:
    """Whether the socket with this environment was opened by the login session the client's page was made for
    (both None when flowdeck needs no login). An unknown client is left to NiceGUI, which refuses it."""
    client = Client.instances.get(client_id)
    if client is None or environ is None:
        return True
    try:
        page_state = client.request.state
    except RuntimeError:  # a page made without a request (none of flowdeck's): no login to match
        return False
    page_session = getattr(page_state, "flowdeck_session", None)
    page_role = getattr(page_state, "flowdeck_role", None)
    socket_state = environ.get("asgi.scope", {}).get("state", {})
    socket_session, socket_role = socket_state.get("flowdeck_session"), socket_state.get("flowdeck_role")
    if page_role != socket_role:
        return False
    if page_session is None or socket_session is None:
        return page_session is socket_session
    return hmac.compare_digest(str(page_session), str(socket_session))
