"""Run the explorer app with Werkzeug's threaded WSGI server (it ships with Flask).

The explorer is a local, single-user tool: the model is used under one lock, so a heavier
server would only queue requests in a different place.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable

from flask import Flask
from werkzeug.serving import BaseWSGIServer, get_sockaddr, make_server, select_address_family

from vaekit.errors import ConfigError


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_explorer_server(app: Flask, host: str = "127.0.0.1", port: int = 8000,
                         log_requests: bool = False) -> BaseWSGIServer:
    """A threaded server bound to ``host:port`` (port 0: a free port, see ``server.port``).

    Raises :class:`~vaekit.errors.ConfigError` when the address cannot be bound.
    """
    # Werkzeug logs every request at INFO; keep the terminal for what matters.
    logging.getLogger("werkzeug").setLevel(logging.INFO if log_requests else logging.WARNING)
    sock = _listening_socket(host, port)
    try:
        return make_server(host, port, app, threaded=True, fd=sock.fileno())
    finally:
        sock.close()  # the server holds its own duplicate of the descriptor


def _listening_socket(host: str, port: int) -> socket.socket:
    # Bound here rather than by Werkzeug, which prints to stderr and exits when the port is
    # taken; a ConfigError gives the CLI's one-line message instead.
    try:
        family = select_address_family(host, port)
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as err:
        raise ConfigError(f"cannot listen on {host}:{port} ({err})") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(get_sockaddr(host, port, family))
        sock.listen(128)
    except OSError as err:
        sock.close()
        reason = err.strerror or str(err)
        raise ConfigError(f"cannot listen on {host}:{port} ({reason}); pick another --port "
                          "or --host") from None
    return sock


def serve(app: Flask, host: str = "127.0.0.1", port: int = 8000, *,
          log_requests: bool = False, announce: Callable[[str], None] | None = None) -> None:
    """Serve ``app`` until interrupted; ``announce`` receives the URL line (and a warning when
    the server is reachable from other machines)."""
    announce = announce or _print_now
    server = make_explorer_server(app, host, port, log_requests)
    shown = f"[{host}]" if ":" in host else host
    announce(f"vaekit explorer: http://{shown}:{server.port}/  (Ctrl-C to stop)")
    if not is_loopback(host):
        announce(f"warning: listening on {host}: anyone who can reach this address can use "
                 "the explorer (it has no authentication)")
    try:
        server.serve_forever()
    finally:
        server.server_close()


def _print_now(line: str) -> None:
    print(line, flush=True)  # flushed: scripts wait for the URL line on a pipe
