"""A DNS server on 127.0.0.1 that answers from a per-pod topology's hosts file, as the cluster
DNS answers from the Endpoints: what a resolver that does not read /etc/hosts (HAProxy's
`resolvers` section) needs to see pods come back at new addresses.

A records for the names the file lists (several lines of one name: several records, as for a
headless Service), NODATA for other types of a known name, NXDOMAIN for a name without a record
(the file's `#` rows: a pod that does not exist). TTL 1 s. The file is read at every query, so
the answers follow `PerPodTopology.write_hosts` at once.
"""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tests.live.ports import free_port

TYPE_A, CLASS_IN = 1, 1
NOERROR, FORMERR, NXDOMAIN = 0, 1, 3


def records(hosts: Path) -> dict[str, list[str]]:
    """name -> addresses, from a hosts file (lines starting with `#` are absent records)."""
    table: dict[str, list[str]] = {}
    for line in hosts.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 2 and not fields[0].startswith("#"):
            for name in fields[1:]:
                table.setdefault(name.lower().rstrip("."), []).append(fields[0])
    return table


def _question(packet: bytes) -> tuple[str, int, int, int]:
    """(name, qtype, qclass, offset after the question) of a query's first question."""
    labels, offset = [], 12
    while True:
        length = packet[offset]
        offset += 1
        if length == 0:
            break
        if length & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(packet[offset : offset + length].decode("ascii"))
        offset += length
    qtype, qclass = struct.unpack_from("!HH", packet, offset)
    return ".".join(labels).lower(), qtype, qclass, offset + 4


def answer(packet: bytes, hosts: Path) -> bytes:
    """The response to one query packet."""
    (ident, flags, qdcount) = struct.unpack_from("!HHH", packet)
    recursion = flags & 0x0100
    try:
        if qdcount != 1:
            raise ValueError("one question per query")
        name, qtype, qclass, end = _question(packet)
    except (ValueError, IndexError, struct.error, UnicodeDecodeError):
        return struct.pack("!HHHHHH", ident, 0x8080 | recursion | FORMERR, 0, 0, 0, 0)
    known = records(hosts)
    addresses = known.get(name)
    rcode = NOERROR if addresses is not None else NXDOMAIN
    answers = b""
    count = 0
    if addresses and qtype == TYPE_A and qclass == CLASS_IN:
        for address in addresses:
            # a pointer to the question's name, A, IN, TTL 1 s, 4 bytes of address
            answers += struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, 1, 4)
            answers += socket.inet_aton(address)
            count += 1
    header = struct.pack("!HHHHHH", ident, 0x8480 | recursion | rcode, 1, count, 0, 0)
    return header + packet[12:end] + answers


@dataclass
class HostsDns:
    """The server: start(), then `port` on 127.0.0.1; stop() when done."""

    hosts: Path
    port: int = field(default_factory=free_port)
    queries: int = 0
    _sock: socket.socket | None = None
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                packet, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if len(packet) >= 12:
                self.queries += 1
                self._sock.sendto(answer(packet, self.hosts), peer)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()
