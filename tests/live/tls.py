"""Certificates for the live TLS tests, made by openssl in place of cert-manager's: a CA as the
chart's bootstrap makes (selfSigned Issuer -> isCA Certificate) and server certificates written
into a folder as the kubelet mounts cert-manager's Secret (tls.crt, tls.key, ca.crt)."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path
from typing import Any

LOCAL_NAMES = ("IP:127.0.0.1", "DNS:localhost")


def openssl(*args: str) -> str:
    result = subprocess.run(
        ["openssl", *args], capture_output=True, text=True, timeout=30, check=True
    )
    return result.stdout


def make_ca(folder: Path) -> None:
    """A self-signed CA (ca.key, ca.pem) in `folder`."""
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(folder / "ca.key"))
    openssl(
        "req", "-x509", "-new", "-key", str(folder / "ca.key"), "-subj", "/CN=live-test-ca",
        "-days", "2", "-out", str(folder / "ca.pem"),
    )  # fmt: skip


def rendered_dns_names(objects: list[Any]) -> list[str]:
    """The dnsNames of the rendered server Certificate (the one that is not the CA)."""
    for obj in objects:
        if obj.kind == "Certificate" and not obj.body["spec"].get("isCA"):
            return list(obj.body["spec"]["dnsNames"])
    raise AssertionError("the render has no server Certificate")


def issue(folder: Path, serial: int, names: tuple[str, ...] = LOCAL_NAMES) -> None:
    """A server certificate with `serial` and the subject alternative names `names` (`DNS:...`,
    `IP:...`), signed by the CA in folder's parent, written into `folder` as cert-manager's
    Secret holds it (key and certificate each replaced atomically; the watcher retries while
    they do not match yet)."""
    work = folder.parent
    key, csr, crt = work / f"s{serial}.key", work / f"s{serial}.csr", work / f"s{serial}.crt"
    ext = work / "san.ext"
    ext.write_text(
        f"subjectAltName={','.join(names)}\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        "keyUsage=digitalSignature\n"
    )
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key))
    openssl("req", "-new", "-key", str(key), "-subj", "/CN=localhost", "-out", str(csr))
    openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(work / "ca.pem"), "-CAkey",
        str(work / "ca.key"), "-set_serial", str(serial), "-days", "1", "-extfile", str(ext),
        "-out", str(crt),
    )  # fmt: skip
    folder.mkdir(exist_ok=True)
    for name, source in (("ca.crt", work / "ca.pem"), ("tls.key", key), ("tls.crt", crt)):
        staging = folder / f".{name}.new"
        staging.write_bytes(source.read_bytes())
        staging.chmod(0o440)
        staging.replace(folder / name)


def client_context(ca: Path) -> ssl.SSLContext:
    """A client that checks the server's chain against `ca` (not its name: the tests dial
    addresses, as redis-cli does not check names either)."""
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False
    return context


def file_serial(certificate: Path) -> int:
    """The serial of a PEM certificate file."""
    shown = openssl("x509", "-noout", "-serial", "-in", str(certificate))
    return int(shown.strip().split("=", 1)[1], 16)
