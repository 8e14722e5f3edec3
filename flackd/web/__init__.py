"""The web front end: the page, served over HTTP, and the chat over a WebSocket.

Owns everything web-shaped, and nothing else holds any of it: :mod:`flackd.web.site`
(which request gets which answer: static files, security headers, Host and Origin
checks; sans I/O), :mod:`flackd.web.http` (one HTTP/1.1 connection until it closes or
upgrades), :mod:`flackd.web.websocket` (the WebSocket as a stream of protocol lines) and
``static/`` (the page: HTML, CSS and JavaScript modules, no build step). The server serves
an upgraded WebSocket like any other connection, so the hub and the Flack codec never
know a browser is there. Imports trio, h11, wsproto and the standard library; never the
hub, the codec, the stores or ``flackd.irc``.
"""

from flackd.web.http import refusal, serve_http
from flackd.web.site import Answer, Site
from flackd.web.websocket import WebSocketStream

__all__ = ["Answer", "Site", "WebSocketStream", "refusal", "serve_http"]
