"""The chart's password handling in its own shell scripts, run with /bin/sh: what each pod reads
it mounts, and the ACL file gets exactly the hashes of what the Secret holds, whatever the
password's characters or the file's line endings."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from chartgen.engines import helm
from chartgen.security.acl import password_hash
from tests.conftest import CHART

FILES = CHART / "files"
READS = re.compile(r"(?:password_of|passwords_of|AUTH_DIR/)\s*([A-Z][A-Z0-9_]*_PASSWORD)")


def _volume_items(statefulset: dict[str, object], name: str) -> set[str]:
    spec = statefulset["spec"]["template"]["spec"]  # type: ignore[index]
    volume = next(v for v in spec["volumes"] if v["name"] == name)
    source = volume.get("secret") or volume["configMap"]
    return {item["key"] for item in source["items"]}


SIDE_SCRIPTS = {
    "redis": ("start-redis.sh", "health.sh", "pre-stop.sh", "lib.sh", "auth.sh"),
    "sentinel": ("start-sentinel.sh", "sentinel-health.sh", "auth.sh"),
}


def _watcher_reads(side: str) -> set[str]:
    """Keys watch-auth.sh reads for one side: the shared part and that side's `case` branch."""
    text = (FILES / "watch-auth.sh").read_text()
    shared, _, cases = text.partition('case "$side" in')
    branches, _, rest = cases.partition("esac")
    mine = branches.split(f"{side})", 1)[1].split(";;", 1)[0]
    return set(READS.findall(shared + mine + rest))


def test_every_password_a_pod_reads_is_mounted_in_that_pod() -> None:
    """Production (ha): each StatefulSet mounts what its scripts read and its ACL users need."""
    objects = helm.render(CHART, "production")
    reads = {}
    for side in ("redis", "sentinel"):
        name = f"sessions-session-database-{side}"
        statefulset = next(o for o in objects if o.kind == "StatefulSet" and o.name == name)
        scripts = _volume_items(statefulset.body, "scripts")
        assert set(SIDE_SCRIPTS[side]) <= scripts | {"lib.sh"}
        mounted = _volume_items(statefulset.body, "auth")
        read = {key for f in SIDE_SCRIPTS[side] for key in READS.findall((FILES / f).read_text())}
        read |= _watcher_reads(side)
        acl = next(o for o in objects if o.kind == "ConfigMap" and o.name == name)
        read |= {line.split()[0] for line in acl.body["data"]["users.acl"].splitlines()} - {"-"}
        assert read <= mounted, f"{name} reads {sorted(read - mounted)} it does not mount"
        reads[side] = read
    # what each side presents to the other is among what it reads
    assert "SENTINEL_AUTH_PASSWORD" in reads["sentinel"]
    assert {"REPLICATION_PASSWORD", "HANDOVER_PASSWORD"} <= reads["redis"]


TRICKY = {
    "SPACES_PASSWORD": b" with  spaces ",
    "QUOTES_PASSWORD": b"q\"u'o`te$HOME\\n",
    "SEPARATORS_PASSWORD": b"s/l&a#sh|pipe",
    "ROTATING_PASSWORD": b"old-one\r\nnew-one\r\n",
    "NO_NEWLINE_PASSWORD": b"first\nsecond",
    "BLANK_LINES_PASSWORD": b"\n\n  \nonly\n\n",
}


def test_assemble_acl_hashes_every_password_exactly(tmp_path: Path) -> None:
    auth = tmp_path / "auth"
    auth.mkdir()
    for key, data in TRICKY.items():
        (auth / key).write_bytes(data)
    template = tmp_path / "users.acl"
    template.write_text(
        "".join(f"{key} user u{i} on resetpass resetkeys -@all\n" for i, key in enumerate(TRICKY))
        + "- user default off resetpass resetkeys -@all\n"
    )
    out = tmp_path / "out.acl"
    script = f'. "{FILES}/auth.sh"; assemble_acl "{template}" "{out}"'
    subprocess.run(
        ["sh", "-c", script], env={"AUTH_DIR": str(auth), "PATH": "/usr/bin:/bin"}, check=True
    )
    lines = out.read_text().splitlines()
    expected = {
        "SPACES_PASSWORD": [" with  spaces "],
        "QUOTES_PASSWORD": ["q\"u'o`te$HOME\\n"],
        "SEPARATORS_PASSWORD": ["s/l&a#sh|pipe"],
        "ROTATING_PASSWORD": ["old-one", "new-one"],
        "NO_NEWLINE_PASSWORD": ["first", "second"],
        "BLANK_LINES_PASSWORD": ["only"],
    }
    for i, key in enumerate(TRICKY):
        hashes = " ".join(password_hash(p) for p in expected[key])
        assert lines[i] == f"user u{i} on resetpass {hashes} resetkeys -@all", key
    assert lines[-1] == "user default off resetpass resetkeys -@all"
    assert not any(p in out.read_text() for ps in expected.values() for p in ps)
    newest = subprocess.run(
        ["sh", "-c", f'. "{FILES}/auth.sh"; password_of ROTATING_PASSWORD'],
        env={"AUTH_DIR": str(auth), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=True,
    )
    assert newest.stdout == b"new-one\n"


def test_an_empty_secret_key_stops_the_start(tmp_path: Path) -> None:
    auth = tmp_path / "auth"
    auth.mkdir()
    (auth / "EMPTY_PASSWORD").write_text("\n \n")
    template = tmp_path / "users.acl"
    template.write_text("EMPTY_PASSWORD user x on resetpass -@all\n")
    result = subprocess.run(
        ["sh", "-c", f'. "{FILES}/auth.sh"; assemble_acl "{template}" "{tmp_path}/out"'],
        env={"AUTH_DIR": str(auth), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "EMPTY_PASSWORD holds no password" in result.stderr
    assert not (tmp_path / "out").exists()
