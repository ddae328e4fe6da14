"""One port check for up's pre-flight and for doctor: which published ports another program holds.

A port this project's own containers publish is ours, never a conflict. A port we may not bind
ourselves (below 1024 without root) is not taken by that fact alone: the caller may know better
(doctor asks `ss`), otherwise Docker, which binds as root, has the last word.
"""
from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Collection

from stack.config.settings import Settings
from stack.services import PublishedPort, published_ports

InUse = Callable[[str, int], "bool | None"]


def bind_host(settings: Settings) -> str:
    return "0.0.0.0" if settings.public else "127.0.0.1"


def port_in_use(host: str, port: int) -> bool | None:
    """True if something holds host:port; None if we may not bind it (ports below 1024 without root)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return True if exc.errno == errno.EADDRINUSE else None
    return False


def taken(settings: Settings, ours: Collection[int], in_use: InUse = port_in_use,
          listening: Collection[int] = ()) -> list[PublishedPort]:
    """The published ports that another program holds (`listening`: ports seen listening, for those
    `in_use` cannot tell)."""
    host = bind_host(settings)
    found = []
    for published in published_ports(settings):
        if published.port in ours:
            continue
        busy = in_use(host, published.port)
        if busy is None:
            busy = published.port in listening
        if busy:
            found.append(published)
    return found
