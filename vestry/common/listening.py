"""Listening TCP sockets, for the gateway and for `vestry up`'s check of its port."""

from __future__ import annotations

import socket

__all__ = ["listen_tcp", "port_taken"]


def listen_tcp(host: str, port: int, backlog: int, reuse_port: bool = False) -> socket.socket:
    """A socket listening on host:port. With `reuse_port` (SO_REUSEPORT) other processes of
    this user may bind the port too, and the kernel hands each new connection to one of them,
    evenly, where one shared socket would let whichever process wakes first accept a burst."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT, as uvicorn
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def port_taken(host: str, port: int) -> bool:
    """Whether something listens on host:port already. False when `host` does not resolve:
    whoever binds it then says so."""
    try:
        listen_tcp(host, port, backlog=1).close()
    except socket.gaierror:
        return False
    except OSError:
        return True
    return False
