"""A byte relay between a TCP address and a Unix socket, to reach the local API server from a
network namespace the test made: the namespace has no route out (pod addresses there go
nowhere), and a Unix socket path is seen from both sides.

    python -m tests.kube.relay unix-to-tcp SOCKET HOST:PORT   (outside: socket -> API server)
    python -m tests.kube.relay tcp-to-unix HOST:PORT SOCKET   (inside: loopback -> socket)"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Callable


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


def serve(listener: socket.socket, connect: Callable[[], socket.socket]) -> None:
    listener.listen(64)
    while True:
        client, _ = listener.accept()
        try:
            upstream = connect()
        except OSError:
            client.close()
            continue
        for pair in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=pair, daemon=True).start()


def _tcp(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def main(argv: list[str]) -> None:
    mode, listen, target = argv
    if mode == "unix-to-tcp":
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(listen)

        def connect_tcp() -> socket.socket:
            upstream = socket.create_connection(_tcp(target), timeout=10)
            upstream.settimeout(None)  # watches stay open for minutes
            return upstream

        serve(listener, connect_tcp)
    elif mode == "tcp-to-unix":
        listener = socket.create_server(_tcp(listen))

        def connect() -> socket.socket:
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(target)
            return upstream

        serve(listener, connect)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv[1:])
