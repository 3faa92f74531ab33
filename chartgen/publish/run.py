"""The publish pipeline: validate -> package -> check every target -> write the repository
directory (archive, provenance, index last) -> push to the OCI registry.

Nothing is written before every target agreed: a version published with other content is refused
in the repository directory and in the registry before either is touched.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from chartgen.errors import OutputError, PublishConflict, UsageError, ValidationFailed
from chartgen.publish import durable, index, oci, signing
from chartgen.publish.archive import package, sha256_of
from chartgen.publish.oci import OciTarget
from chartgen.validate.runner import ValidateOptions, validate_tree


@dataclass(frozen=True)
class Signing:
    keyring: Path
    key_name: str
    passphrase_file: Path | None = None


@dataclass(frozen=True)
class PublishOptions:
    validate: ValidateOptions
    repo_dir: Path | None = None
    base_url: str | None = None
    signing: Signing | None = None
    oci: OciTarget | None = None


@dataclass
class PublishResult:
    chart: str
    version: str
    digest: str
    messages: list[str] = field(default_factory=list)


def timestamp() -> str:
    """RFC 3339 UTC, as Helm writes `created`; SOURCE_DATE_EPOCH pins it (reproducible runs)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None:
        try:
            seconds, nanos = int(epoch), 0
        except ValueError:
            raise UsageError(f"SOURCE_DATE_EPOCH={epoch!r} is not a number of seconds") from None
    else:
        now = time.time_ns()
        seconds, nanos = divmod(now, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{stamp}.{nanos:09d}Z"


def _validate(options: ValidateOptions) -> None:
    from chartgen.validate.reporters import text

    outcome = validate_tree(options)
    if outcome.failed(options.strict):
        raise ValidationFailed(
            "chartgen publish: the chart fails `chartgen validate`; nothing was published\n"
            + text(outcome.problems, outcome.checks)
        )


def _conflict(where: str, name: str, version: str, published: str, ours: str) -> PublishConflict:
    return PublishConflict(
        f"{where}: {name} {version} is already published with different content "
        f"(published sha256:{published}, this chart sha256:{ours}); a published version is "
        "immutable: bump `chart.version` in the spec and build again"
    )


def _write_repo(repo_dir: Path, archive: Path, entry: dict[str, object] | None) -> list[str]:
    """Archive and provenance first, index last: a crash at any point leaves an index naming
    only archives that exist with the digest it records. `entry` None: the version is indexed
    already with this digest and only its archive is put back."""
    messages = [
        f"removed {name}, left by a killed publish" for name in durable.remove_leftovers(repo_dir)
    ]
    durable.place(archive.read_bytes(), repo_dir / archive.name)
    provenance = archive.with_name(archive.name + ".prov")
    if provenance.exists():
        durable.place(provenance.read_bytes(), repo_dir / provenance.name)
    if entry is not None:
        merged = index.merge(index.load(repo_dir), entry, timestamp())
        durable.place(index.dump(merged), repo_dir / index.INDEX)
    return messages


def _repo_state(repo_dir: Path, name: str, version: str, digest: str) -> str:
    """'new', 'published' (same content, archive in place) or 'repair' (same content indexed,
    archive missing or damaged); other content under the version is a conflict."""
    published = index.find(index.load(repo_dir), name, version)
    if published is None:
        return "new"
    if published.digest != digest:
        raise _conflict(str(repo_dir / index.INDEX), name, version, published.digest, digest)
    file_name = (published.urls[0] if published.urls else f"{name}-{version}.tgz").rsplit("/")[-1]
    path = repo_dir / file_name
    return "published" if path.is_file() and sha256_of(path) == digest else "repair"


def publish(options: PublishOptions) -> PublishResult:
    """Validate, package, then publish to the repository directory and/or the registry."""
    from chartgen.topology.load import chart_name_of

    if options.repo_dir is None and options.oci is None:
        raise UsageError("nothing to publish to: give --repo-dir DIR and/or --oci oci://HOST/PATH")
    if options.repo_dir is not None and not options.repo_dir.is_dir():
        raise UsageError(f"--repo-dir {options.repo_dir}: no such directory")
    _validate(options.validate)
    chart_dir = options.validate.chart_root / chart_name_of(options.validate.spec)
    with tempfile.TemporaryDirectory(prefix="chartgen-package-") as scratch:
        archive = package(chart_dir, Path(scratch))
        entry = index.new_entry(archive, options.base_url)
        result = PublishResult(str(entry["name"]), str(entry["version"]), sha256_of(archive))
        state = "none"
        if options.repo_dir is not None:
            state = _repo_state(options.repo_dir, result.chart, result.version, result.digest)
        if options.oci is None:
            _publish_repo(options, state, archive, entry, result)
            return result
        with oci.registry_client(options.oci) as client:
            held = oci.published_digest(client, options.oci, result.chart, result.version)
            if held is not None and held != result.digest:
                raise _conflict(
                    options.oci.remote, result.chart, result.version, held, result.digest
                )
            _publish_repo(options, state, archive, entry, result)
            if held is None:
                oci.push(client, options.oci, archive)
                ref = f"{options.oci.ref(result.chart)}:{result.version}"
                result.messages.append(f"{ref}: pushed sha256:{result.digest}")
            else:
                result.messages.append(
                    f"{options.oci.ref(result.chart)}:{result.version} is already there "
                    "with this content: nothing to do"
                )
    return result


def _publish_repo(
    options: PublishOptions,
    state: str,
    archive: Path,
    entry: dict[str, object],
    result: PublishResult,
) -> None:
    repo_dir = options.repo_dir
    if repo_dir is None:
        return
    if state == "published":
        result.messages.append(
            f"{repo_dir}: {result.chart} {result.version} is already published with this "
            "content: nothing to do"
        )
        return
    if options.signing is not None:
        signing.sign(
            archive,
            options.signing.keyring,
            options.signing.key_name,
            options.signing.passphrase_file,
        )
    try:
        result.messages += _write_repo(repo_dir, archive, entry if state == "new" else None)
    except OSError as exc:
        raise OutputError(
            f"cannot write to {repo_dir}: {exc.strerror or exc} (the index still names only "
            "complete archives)"
        ) from None
    verb = "published" if state == "new" else "put back the missing archive"
    result.messages.append(f"{repo_dir}: {verb} {archive.name} sha256:{result.digest}")
