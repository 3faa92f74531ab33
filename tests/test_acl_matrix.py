"""ACL identities on real Redis 7: master, 2 replicas and 3 Sentinels on 127.0.0.1 with the ACL
files chartgen.security.acl writes; every user x {its commands, forbidden commands, own and
foreign keys, own and foreign DBs} probed as that user, printed (pytest -s) and asserted, and the
ACL evaluator's verdict asserted equal to Redis' in every cell. Then replication, a Sentinel
failover, the exporter as `monitor`, `redis-cli --rdb` as `backup`, and a password rotation."""

# ruff: noqa: E501
from __future__ import annotations

import secrets
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chartgen.security.acl import (
    AclUser,
    acl_lines,
    data_users,
    key_glob,
    password_hash,
    sentinel_users,
)
from chartgen.security.acl_eval import allowed
from chartgen.security.resp import Resp, RespError
from chartgen.topology.model import Topology, build_model
from chartgen.topology.resolve import resolve
from tests.live.ports import free_port

pytestmark = pytest.mark.live
REPO = Path(__file__).resolve().parent.parent
MASTER_SET = "sessiondb"
ADMIN = "matrix-admin"  # test-only: reads ACL LOG; not one of the users under test

K = "{k}"
INVOKE: dict[str, list[str]] = {
    "ping": ["PING"], "client|setname": ["CLIENT", "SETNAME", "matrix"], "multi": ["MULTI"],
    "exec": ["EXEC"], "discard": ["DISCARD"], "watch": ["WATCH", K], "unwatch": ["UNWATCH"],
    "wait": ["WAIT", "0", "10"],
    "get": ["GET", K], "set": ["SET", K, "v"], "getex": ["GETEX", K], "getdel": ["GETDEL", K],
    "mget": ["MGET", K], "exists": ["EXISTS", K], "del": ["DEL", K], "unlink": ["UNLINK", K],
    "expire": ["EXPIRE", K, "100"], "pexpire": ["PEXPIRE", K, "100000"],
    "expireat": ["EXPIREAT", K, "9999999999"], "ttl": ["TTL", K], "pttl": ["PTTL", K],
    "persist": ["PERSIST", K], "hget": ["HGET", K, "f"], "hmget": ["HMGET", K, "f"],
    "hgetall": ["HGETALL", K], "hset": ["HSET", K, "f", "v"], "hdel": ["HDEL", K, "f"],
    "hexists": ["HEXISTS", K, "f"], "hincrby": ["HINCRBY", K, "f", "1"], "hlen": ["HLEN", K],
    "zadd": ["ZADD", K, "1", "m"], "zrem": ["ZREM", K, "m"], "zrange": ["ZRANGE", K, "0", "-1"],
    "zrangebyscore": ["ZRANGEBYSCORE", K, "0", "1"],
    "zremrangebyscore": ["ZREMRANGEBYSCORE", K, "0", "1"],
    "zremrangebyrank": ["ZREMRANGEBYRANK", K, "0", "0"], "zcard": ["ZCARD", K],
    "zscore": ["ZSCORE", K, "m"], "scan": ["SCAN", "0", "COUNT", "10"], "type": ["TYPE", K],
    "strlen": ["STRLEN", K],
    "time": ["TIME"], "incr": ["INCR", K],
    "info": ["INFO", "server"], "config|get": ["CONFIG", "GET", "maxmemory"],
    "latency|latest": ["LATENCY", "LATEST"], "slowlog|get": ["SLOWLOG", "GET", "1"],
    "slowlog|len": ["SLOWLOG", "LEN"], "bgsave": ["BGSAVE"], "lastsave": ["LASTSAVE"],
    "replconf": ["REPLCONF", "listening-port", "1"], "role": ["ROLE"],
    "client|kill": ["CLIENT", "KILL", "ID", "999999"], "subscribe": ["SUBSCRIBE", "__sentinel__:hello"],
    "publish": ["PUBLISH", "__sentinel__:hello", "matrix"], "slaveof": ["SLAVEOF", "NO", "ONE"],
    "config|rewrite": ["CONFIG", "REWRITE"], "script|kill": ["SCRIPT", "KILL"],
    "client|pause": ["CLIENT", "PAUSE", "1", "WRITE"], "client|unpause": ["CLIENT", "UNPAUSE"],
    "replicaof": ["REPLICAOF", "NO", "ONE"],
    "acl|setuser": ["ACL", "SETUSER", "matrix-x", "off"],
    "config|set": ["CONFIG", "SET", "maxmemory-samples", "5"],
    "sentinel|set": ["SENTINEL", "SET", "nosuchmaster", "quorum", "2"],
    "sentinel|config": ["SENTINEL", "CONFIG", "GET", "resolve-hostnames"],
    "sentinel|masters": ["SENTINEL", "MASTERS"], "sentinel|master": ["SENTINEL", "MASTER", "m"],
    "sentinel|get-master-addr-by-name": ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "m"],
    "sentinel|replicas": ["SENTINEL", "REPLICAS", "m"], "sentinel|slaves": ["SENTINEL", "SLAVES", "m"],
    "sentinel|sentinels": ["SENTINEL", "SENTINELS", "m"], "sentinel|ckquorum": ["SENTINEL", "CKQUORUM", "m"],
    "sentinel|failover": ["SENTINEL", "FAILOVER", "nosuchmaster"],
    "sentinel|is-master-down-by-addr": ["SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", "1", "0", "*"],
}  # fmt: skip
NOT_PROBED = {"sync", "psync"}  # stream replication: proven by --rdb and by the replicas
FORBIDDEN_DATA: dict[str, list[str]] = {
    "flushall": ["FLUSHALL"], "flushdb": ["FLUSHDB"],
    "config|set": ["CONFIG", "SET", "maxmemory-samples", "5"], "keys": ["KEYS", "nomatch:*"],
    "debug": ["DEBUG", "HELP"], "acl|setuser": ["ACL", "SETUSER", "matrix-x", "off"],
    "shutdown": ["SHUTDOWN", "ABORT"], "replicaof": ["REPLICAOF", "NO", "ONE"],
    "module|list": ["MODULE", "LIST"],
}  # fmt: skip
FORBIDDEN_SENTINEL: dict[str, list[str]] = {
    "sentinel|set": ["SENTINEL", "SET", "nosuchmaster", "quorum", "2"],
    "sentinel|remove": ["SENTINEL", "REMOVE", "nosuchmaster"],
    "sentinel|reset": ["SENTINEL", "RESET", "nosuchmaster"],
    "sentinel|config": ["SENTINEL", "CONFIG", "SET", "resolve-hostnames", "no"],
    "sentinel|failover": ["SENTINEL", "FAILOVER", "nosuchmaster"],
    "acl|setuser": ["ACL", "SETUSER", "matrix-x", "off"], "shutdown": ["SHUTDOWN", "ABORT"],
}  # fmt: skip


@dataclass
class Cluster:
    tmp: Path
    model: Topology
    data_ports: list[int]
    sentinel_ports: list[int]
    data: tuple[AclUser, ...]
    sentinel: tuple[AclUser, ...]
    pw: dict[str, list[str]]  # data side
    spw: dict[str, list[str]]  # Sentinel side
    admin_pw: str


def _wait(port: int, user: str, password: str) -> None:
    for _ in range(200):
        try:
            with Resp(port) as conn:
                conn.call("AUTH", user, password)
                conn.call("PING")
                return
        except (OSError, RespError):
            time.sleep(0.05)
    raise RuntimeError(f"port {port} never answered")


def _write_acl(
    path: Path, users: tuple[AclUser, ...], pw: dict[str, list[str]], admin: str
) -> None:
    lines = acl_lines(users, pw)
    lines.append(f"user {ADMIN} on {password_hash(admin)} ~* &* +@all")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    model = build_model(resolve(REPO / "values/topology.yaml", root=REPO).base)
    data, sent = data_users(model), sentinel_users(model)
    pw = {u.name: [secrets.token_hex(16)] for u in data}
    spw = {u.name: [secrets.token_hex(16)] for u in sent}
    spw["monitor"] = pw["monitor"]  # one monitor identity on both sides
    admin = secrets.token_hex(16)
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="acl-matrix-") as name:
        tmp = Path(name)
        dports = [free_port() for _ in range(3)]
        sports = [free_port() for _ in range(3)]
        _write_acl(tmp / "users.acl", data, pw, admin)
        _write_acl(tmp / "sentinel.acl", sent, spw, admin)
        try:
            for i, port in enumerate(dports):
                node = tmp / f"redis-{i}"
                node.mkdir()
                conf = [
                    f"port {port}", "bind 127.0.0.1", f"dir {node}", f"aclfile {tmp}/users.acl",
                    'save ""', "appendonly no", "masteruser replication",
                    f"masterauth {pw['replication'][0]}",
                ]  # fmt: skip
                if i:
                    conf.append(f"replicaof 127.0.0.1 {dports[0]}")
                (node / "redis.conf").write_text("\n".join(conf) + "\n")
                log = (node / "log").open("wb")
                procs.append(
                    subprocess.Popen(["redis-server", str(node / "redis.conf")], stdout=log)
                )
            for port in dports:
                _wait(port, ADMIN, admin)
            for i, port in enumerate(sports):
                node = tmp / f"sentinel-{i}"
                node.mkdir()
                conf = [
                    f"port {port}", "bind 127.0.0.1", f"dir {node}",
                    f"aclfile {tmp}/sentinel.acl",
                    f"sentinel monitor {MASTER_SET} 127.0.0.1 {dports[0]} 2",
                    f"sentinel down-after-milliseconds {MASTER_SET} 1000",
                    f"sentinel failover-timeout {MASTER_SET} 10000",
                    f"sentinel auth-user {MASTER_SET} sentinel",
                    f"sentinel auth-pass {MASTER_SET} {pw['sentinel'][0]}",
                    "sentinel sentinel-user sentinel", f"sentinel sentinel-pass {spw['sentinel'][0]}",
                ]  # fmt: skip
                (node / "sentinel.conf").write_text("\n".join(conf) + "\n")
                log = (node / "log").open("wb")
                procs.append(
                    subprocess.Popen(["redis-sentinel", str(node / "sentinel.conf")], stdout=log)
                )
            for port in sports:
                _wait(port, ADMIN, admin)
            yield Cluster(tmp, model, dports, sports, data, sent, pw, spw, admin)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=10)


def _verdict(port: int, user: str, password: str, args: list[str], db: int | None = None) -> str:
    """'ok' (the ACL let it through, whatever the command then said) or 'NOPERM'."""
    with Resp(port) as conn:
        conn.call("AUTH", user, password)
        try:
            if db is not None:
                conn.call("SELECT", str(db))
            conn.call(*args)
        except RespError as exc:
            if str(exc).startswith("NOPERM"):
                return "NOPERM"
            if "command not allowed" in str(exc):  # enable-debug-command no: refused before ACL
                return "protected"
            if str(exc).startswith("ERR unknown"):
                return "unknown"
        return "ok"


def _split(name: str) -> tuple[str, str | None]:
    cmd, _, sub = name.partition("|")
    return cmd, sub or None


@dataclass(frozen=True)
class Cell:
    user: str
    side: str
    label: str
    expected: bool
    redis: bool
    evaluator: bool


def _cells(c: Cluster, user: AclUser) -> Iterator[Cell]:
    side_port = c.data_ports[0] if user.side == "server" else c.sentinel_ports[0]
    password = (c.pw if user.side == "server" else c.spw)[user.name][0]
    role = (
        next((r for r in c.model.roles if r.name == user.name), None) if not user.internal else None
    )
    own_key = (
        key_glob(role.key_patterns[0]).replace("*", "matrix")
        if role and role.key_patterns
        else None
    )
    foreign = "foreign:matrix"
    key = own_key or foreign

    def probe(label: str, name: str, args: list[str], expected: bool, k: str | None) -> Cell:
        args = [a.replace(K, k or key) for a in args]
        real = _verdict(side_port, user.name, password, args)
        cmd, sub = _split(name)
        if sub is None and cmd == "select":
            sub = args[1]
        channel = args[1] if cmd in ("publish", "subscribe") else None
        evaluated = allowed(user.rules, cmd, sub, key=k, side=user.side, channel=channel)
        return Cell(user.name, user.side, label, expected, real == "ok", evaluated)

    granted = [r[1:] for r in user.rules if r.startswith("+") and not r.startswith("+select|")]
    for name in granted:
        command, _, first = name.partition("|")
        if name not in INVOKE and first and K in INVOKE.get(command, []):
            # a first-argument rule on a key command (`+set|<key>`): that one key
            yield probe(name, name, [a.replace(K, first) for a in INVOKE[command]], True, first)
        elif name not in NOT_PROBED:
            yield probe(name, name, INVOKE[name], True, own_key if "{k}" in INVOKE[name] else None)
    forbidden = FORBIDDEN_DATA if user.side == "server" else FORBIDDEN_SENTINEL
    for name, args in forbidden.items():
        if name not in granted:
            yield probe(f"{name} (forbidden)", name, args, False, None)
    if user.side == "server":
        keyed = next((n for n in ("get", "exists", "type", "ttl") if n in granted), "get")
        # a role that reads no key (backup: SET/INCR of named keys only, probed above) has no
        # read of its own keys to allow
        if own_key and keyed in granted:
            yield probe(f"{keyed} own key", keyed, INVOKE[keyed], True, own_key)
        yield probe(f"{keyed} foreign key", keyed, INVOKE[keyed], False, foreign)
        indexes = {"sessions": c.model.sessions.index, "cache": c.model.cache.index}
        own = [indexes[d] for d in role.databases] if role else []
        for db in own:
            yield probe(f"select {db} (own)", "select", ["SELECT", str(db)], True, None)
        for db in sorted({0, 1, 2} - set(own)):
            yield probe(f"select {db} (foreign)", "select", ["SELECT", str(db)], False, None)


def mark(verdict: bool) -> str:
    return "allow" if verdict else "deny"


def test_acl_matrix(cluster: Cluster) -> None:
    cells = [cell for user in cluster.data + cluster.sentinel for cell in _cells(cluster, user)]
    print(f"\nACL matrix on redis-server/redis-sentinel 7.0 ({len(cells)} cells)")
    print(f"{'side':9} {'user':12} {'probe':40} {'expect':7} {'redis':7} evaluator")
    for cell in cells:
        print(f"{cell.side:9} {cell.user:12} {cell.label:40} {mark(cell.expected):7} "
              f"{mark(cell.redis):7} {mark(cell.evaluator)}")  # fmt: skip
    wrong = [c for c in cells if c.redis != c.expected]
    disagree = [c for c in cells if c.evaluator != c.redis]
    assert not wrong, "\n".join(map(str, wrong))
    assert not disagree, disagree


def test_read_only_key_patterns_as_redis_judges_them(cluster: Cluster) -> None:
    """`%R~` (the monitor role's cleanup result keys): reads pass, writes and foreign keys do
    not, and the evaluator agrees with the real server in every cell."""
    port, user, password = cluster.data_ports[0], "matrix-ro", secrets.token_hex(8)
    rules = [
        "on",
        "resetkeys",
        "%R~ro:*",
        "resetchannels",
        "-@all",
        "+get",
        "+type",
        "+set",
        "+del",
    ]
    with _admin(cluster, port) as conn:
        conn.call("ACL", "SETUSER", user, "reset", f">{password}", *rules)
    cells = {
        ("get", "ro:x"): True, ("type", "ro:x"): True, ("set", "ro:x"): False,
        ("del", "ro:x"): False, ("get", "rw:x"): False,
    }  # fmt: skip
    try:
        for (command, key), expected in cells.items():
            args = [*INVOKE[command]]
            real = _verdict(port, user, password, [a.replace(K, key) for a in args]) == "ok"
            assert real == expected, (command, key, real)
            assert allowed(rules, command, key=key) == real, (command, key)
    finally:
        with _admin(cluster, port) as conn:
            conn.call("ACL", "DELUSER", user)


def _admin(c: Cluster, port: int) -> Resp:
    conn = Resp(port)
    conn.call("AUTH", ADMIN, c.admin_pw)
    return conn


def _acl_log(c: Cluster, ports: list[int]) -> list[str]:
    """ACL LOG entries (username, reason, object) on `ports`, then cleared."""
    out = []
    for port in ports:
        with _admin(c, port) as conn:
            for entry in conn.call("ACL", "LOG"):
                fields = dict(zip(entry[::2], entry[1::2], strict=False))
                out.append(f"{port} {fields['username']} {fields['reason']} {fields['object']}")
            conn.call("ACL", "LOG", "RESET")
    return out


def _as(c: Cluster, port: int, user: str, sentinel: bool = False) -> Resp:
    conn = Resp(port)
    conn.call("AUTH", user, (c.spw if sentinel else c.pw)[user][0])
    return conn


def _cli(*args: str) -> str:
    result = subprocess.run(
        ["redis-cli", *args], check=False, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_replication_exporter_backup_operator(cluster: Cluster) -> None:
    c = cluster
    _acl_log(c, c.data_ports + c.sentinel_ports)  # the matrix' own denials
    with _as(c, c.data_ports[0], "app") as app:
        app.call("SET", "session:repl", "1")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with _as(c, c.data_ports[0], "probe") as probe:
            if "connected_slaves:2" in probe.call("INFO", "replication"):
                break
        time.sleep(0.1)
    value = None
    while time.monotonic() < deadline and value is None:
        with _as(c, c.data_ports[1], "app") as app:
            value = app.call("GET", "session:repl")
        time.sleep(0.05)
    assert value == "1", "the write never reached the replica"
    # the exporter as monitor against a data pod and a Sentinel
    for port in (c.data_ports[0], c.sentinel_ports[0]):
        web = free_port()
        exporter = subprocess.Popen(
            ["prometheus-redis-exporter", "-redis.addr", f"redis://127.0.0.1:{port}",
             "-redis.user", "monitor", "-redis.password", c.pw["monitor"][0],
             "-config-command", "-",  # CONFIG GET would reveal masterauth: not granted
             "-web.listen-address", f"127.0.0.1:{web}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            body = ""
            for _ in range(100):
                try:
                    body = urllib.request.urlopen(f"http://127.0.0.1:{web}/metrics").read().decode()
                    break
                except OSError:
                    time.sleep(0.05)
        finally:
            exporter.terminate()
            exporter.wait()
        assert "redis_up 1" in body.splitlines(), port
        print(f"exporter as monitor on {port}: redis_up 1")
    # redis-cli --rdb as backup
    rdb = c.tmp / "backup.rdb"
    _cli("-p", str(c.data_ports[0]), "--user", "backup", "--pass", c.pw["backup"][0],
         "--no-auth-warning", "--rdb", str(rdb))  # fmt: skip
    assert rdb.read_bytes().startswith(b"REDIS"), "not an RDB file"
    print(f"redis-cli --rdb as backup: {rdb.stat().st_size} bytes")
    # the guide's operator commands as default
    out = _cli("-p", str(c.data_ports[0]), "-a", c.pw["default"][0], "--no-auth-warning",
               "info", "replication")  # fmt: skip
    assert "role:master" in out
    saved = _cli(
        "-p", str(c.data_ports[0]), "-a", c.pw["default"][0], "--no-auth-warning", "BGSAVE"
    )
    assert "Background saving started" in saved or "already in progress" in saved, saved
    out = _cli("-p", str(c.sentinel_ports[0]), "-a", c.spw["default"][0], "--no-auth-warning",
               "sentinel", "masters")  # fmt: skip
    assert MASTER_SET in out
    log = _acl_log(c, c.data_ports + c.sentinel_ports)
    assert not log, log


def test_failover_with_auth(cluster: Cluster) -> None:
    c = cluster
    old = c.data_ports[0]
    deadline = time.monotonic() + 30
    while True:  # every Sentinel knows both replicas and both peers
        ready = True
        for port in c.sentinel_ports:
            with _as(c, port, "default", sentinel=True) as s:
                ready &= len(s.call("SENTINEL", "REPLICAS", MASTER_SET)) >= 2
                ready &= len(s.call("SENTINEL", "SENTINELS", MASTER_SET)) == 2
        if ready or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    logs = "".join((c.tmp / f"sentinel-{i}" / "log").read_text()[-1500:] for i in range(3))
    assert ready, f"Sentinels never discovered replicas and peers with auth on\n{logs}"
    start = time.monotonic()
    with _as(c, c.sentinel_ports[0], "handover", sentinel=True) as s:  # as pre-stop.sh does
        assert s.call("SENTINEL", "FAILOVER", MASTER_SET) == "OK"
    new = None
    while time.monotonic() - start < 30 and new is None:
        with _as(c, c.sentinel_ports[1], "probe", sentinel=True) as s:
            port = int(s.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_SET)[1])
        new = port if port != old else None
        time.sleep(0.1)
    assert new, "no new master"
    promoted = time.monotonic() - start
    while time.monotonic() - start < 30:
        with _as(c, old, "probe") as probe:
            info = probe.call("INFO", "replication")
        if f"master_port:{new}" in info and "master_link_status:up" in info:
            break
        time.sleep(0.1)
    assert f"master_port:{new}" in info and "master_link_status:up" in info, info
    followed = time.monotonic() - start
    print(
        f"failover: new master after {promoted:.2f}s, old master following it after {followed:.2f}s"
    )
    log = _acl_log(c, c.data_ports + c.sentinel_ports)
    assert not log, log


def test_rotation_without_failed_auth(cluster: Cluster) -> None:  # noqa: PLR0915
    c = cluster
    port = c.data_ports[0]
    old, new = c.pw["app"][0], secrets.token_hex(16)
    acl = c.tmp / "users.acl"

    def load(passwords: list[str]) -> None:
        """As watch-auth.sh applies a rebuilt ACL file: ACL SETUSER of every line."""
        _write_acl(acl, c.data, {**c.pw, "app": passwords}, c.admin_pw)
        with _as(c, port, "reloader") as r:
            for line in acl.read_text().splitlines():
                name, *rules = line.split()[1:]
                if name != ADMIN:
                    assert r.call("ACL", "SETUSER", name, *rules) == "OK"

    current = [old]
    counts = {"ok": 0, "failed": 0, "dropped": 0}
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                with Resp(port) as conn:
                    conn.call("AUTH", "app", current[0])
                    conn.call("GET", "session:rot")
                counts["ok"] += 1
            except RespError:
                counts["failed"] += 1
            except OSError:  # a dropped connection (ACL LOAD would drop them all)
                counts["dropped"] += 1
            time.sleep(0.005)

    held = Resp(port)
    held.call("AUTH", "app", old)
    thread = threading.Thread(target=client)
    thread.start()
    try:
        time.sleep(0.3)
        load([old, new])  # overlap: both accepted
        for pw in (old, new):
            with Resp(port) as conn:
                assert conn.call("AUTH", "app", pw) == "OK"
        time.sleep(0.3)
        current[0] = new  # the client switches within the overlap
        time.sleep(0.3)
        load([new])
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join()
    with Resp(port) as conn, pytest.raises(RespError, match="WRONGPASS"):
        conn.call("AUTH", "app", old)
    try:
        held.call("PING")
        held_state = "still connected"
    except (RespError, OSError) as exc:
        held_state = f"dropped ({exc})"
    finally:
        held.close()
    print(f"rotation: {counts['ok']} authentications, {counts['failed']} refused, "
          f"{counts['dropped']} connections dropped; "
          f"a connection authenticated with the old password: {held_state}")  # fmt: skip
    assert counts["failed"] == 0 and counts["dropped"] == 0 and counts["ok"] > 50
    assert held_state == "still connected"
