"""Free ports for the servers the live tests start on 127.0.0.1."""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
from pathlib import Path


def _port_slice() -> range:
    """Ports for this test process's servers: below the kernel's ephemeral range, so that no
    client connection's local port can take one between choosing it and the server binding it,
    and one slice per xdist worker, so that workers never pick the same port."""
    low = 32768
    with contextlib.suppress(OSError, ValueError, IndexError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) if worker.isdigit() else 0
    start = 10000 + (index % 16) * 1200
    return range(start, min(start + 1200, low))


_next_port = itertools.count()


def free_port() -> int:
    """A port nobody listens on, from this process's slice, never the same one twice."""
    ports = _port_slice()
    for _ in range(len(ports)):
        port = ports[next(_next_port) % len(ports)]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports}")
