#!/usr/bin/env python3
"""Regenerate chartgen/security/redis_commands.json from the real redis-server and redis-sentinel.

Starts both on free 127.0.0.1 ports in a temp dir, reads COMMAND (names, flags, ACL categories,
whether the command takes keys, subcommands) from each and writes the table the ACL evaluator
loads at runtime, with a provenance record (server version, date, binary).

    python3 scripts/gen_acl_commands.py
"""

from __future__ import annotations

import datetime
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chartgen.security.resp import Resp  # noqa: E402

OUT = ROOT / "chartgen" / "security" / "redis_commands.json"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _entry(info: list[Any]) -> dict[str, Any]:
    """One COMMAND reply entry: name, arity, flags, first key, ..., categories, ..., subcommands."""
    entry: dict[str, Any] = {
        "flags": sorted(str(f) for f in info[2]),
        "keys": info[3] != 0 or bool(info[8]) if len(info) > 8 else info[3] != 0,
        "categories": sorted(str(c).lstrip("@") for c in info[6]),
    }
    subs = info[9] if len(info) > 9 else []
    if subs:
        entry["subcommands"] = {
            str(sub[0]).split("|", 1)[1]: _entry(sub) for sub in sorted(subs, key=lambda s: s[0])
        }
    return entry


def _table(port: int) -> tuple[str, dict[str, Any]]:
    with Resp(port) as conn:
        version = ""
        for line in str(conn.call("INFO", "server")).splitlines():
            if line.startswith("redis_version:"):
                version = line.split(":", 1)[1].strip()
        commands = {str(info[0]): _entry(info) for info in conn.call("COMMAND")}
    return version, dict(sorted(commands.items()))


def _wait(port: int) -> None:
    for _ in range(100):
        try:
            with Resp(port) as conn:
                conn.call("PING")
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answers on {port}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rport, sport = _port(), _port()
        conf = Path(tmp, "sentinel.conf")
        conf.write_text(f"port {sport}\nbind 127.0.0.1\ndir {tmp}\n")
        procs = [
            subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(rport),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    tmp,
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
            ),
            subprocess.Popen(["redis-sentinel", str(conf)], stdout=subprocess.DEVNULL),
        ]
        try:
            _wait(rport)
            _wait(sport)
            version, server = _table(rport)
            _, sentinel = _table(sport)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait()
    table = {
        "_provenance": {
            "generator": "scripts/gen_acl_commands.py (COMMAND on redis-server and redis-sentinel)",
            "redis_version": version,
            "date": datetime.date.today().isoformat(),
        },
        "server": server,
        "sentinel": sentinel,
    }
    OUT.write_text(json.dumps(table, indent=1, sort_keys=False) + "\n")
    print(f"{OUT.relative_to(ROOT)}: {len(server)} server and {len(sentinel)} Sentinel commands")


if __name__ == "__main__":
    main()
