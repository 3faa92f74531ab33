"""Provenance: a `<archive>.prov` clear-signed with a PGP key, as `helm package --sign` writes it
and `helm verify` / `helm install --verify` check it."""

from __future__ import annotations

from pathlib import Path

from chartgen.errors import UsageError


def sign(archive: Path, keyring: Path, key_name: str, passphrase_file: Path | None) -> Path:
    """Write `<archive>.prov` beside `archive`; a key that cannot sign is a usage error."""
    import helm_python

    try:
        written = helm_python.sign(
            archive,
            key=key_name,
            keyring=keyring,
            passphrase_file=passphrase_file,
        )
    except helm_python.HelmError as exc:
        raise UsageError(
            f"cannot sign with key {key_name!r} of {keyring}: {exc} "
            "(Helm reads a secret keyring, e.g. `gpg --export-secret-keys > secring.gpg`)"
        ) from None
    return Path(written)
