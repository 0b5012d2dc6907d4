"""Backups, restores and the check that runs after a restore.

A backup is a folder ``backup-<UTC time>`` with three parts:

- ``database.dump``: pg_dump in custom format, taken from an exported snapshot, so that the row
  counts and the audit chain head written to the manifest describe exactly what the dump holds;
- ``evidence/``: a copy of every blob in the evidence storage (ciphertext only; files on disk or
  S3 alike, read through the storage API), with ``evidence.sha256`` listing each file's SHA-256 in
  ``sha256sum`` format;
- ``manifest.json``: when, from which database and release, row counts per table, the audit chain
  head, evidence file count and size, and the SHA-256 of the other parts.

It never holds a key: the master key is backed up apart from the backups (docs/operations.md).

The evidence copy is taken after the dump. Blobs are stored before their rows commit, so every
row in the dump has its blob in the copy; blobs written in between are extra and harmless.

Core may not import the evidence app, so the checks that need it (every original decrypted and
re-hashed, previews and intake files present) come from providers of the hook "restore_checks",
and extra manifest facts (the master key ids in use) from "backup_facts" (see core/hooks.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import dj_database_url
from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.utils import load_backend

from core import audit, hooks
from core.models import AuditEvent

FORMAT = "victimsupport-backup/1"
DUMP_NAME = "database.dump"
EVIDENCE_DIR = "evidence"
EVIDENCE_LIST = "evidence.sha256"
MANIFEST = "manifest.json"
_CHUNK = 1024 * 1024
# Lines of pg_dump/pg_restore errors that may quote row data; never shown.
_ROW_DATA_LINE = re.compile(r"^\s*(CONTEXT|DETAIL|LINE \d+):")


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


@dataclass
class Check:
    name: str
    ok: bool
    summary: str
    problems: list[str] = field(default_factory=list)


@dataclass
class CheckReport:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def lines(self) -> list[str]:
        out = []
        for check in self.checks:
            out.append(f"{'OK  ' if check.ok else 'FAIL'} {check.name}: {check.summary}")
            out.extend(f"     - {problem}" for problem in check.problems)
        return out


# PostgreSQL tools ----------------------------------------------------------------------------


def _tool_major(path: Path) -> int | None:
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=10, check=True).stdout  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", out)
    return int(match.group(1)) if match else None


def pg_tool(name: str, server_major: int, bindir: str | None = None) -> Path:
    """The pg_dump or pg_restore to use with a server of this major version.

    An older tool refuses a newer server (and an older pg_restore cannot read a newer archive), so
    prefer the server's own version (Debian/Ubuntu keep each under /usr/lib/postgresql/N/bin),
    then any newer one, then `pg_config --bindir`, then PATH.
    """
    candidates: list[Path] = []
    if bindir:
        candidates.append(Path(bindir) / name)
    else:
        candidates.append(Path(f"/usr/lib/postgresql/{server_major}/bin/{name}"))
        versions = []
        for path in Path("/usr/lib/postgresql").glob(f"*/bin/{name}"):
            with contextlib.suppress(ValueError):
                versions.append((int(path.parent.parent.name), path))
        candidates += [path for version, path in sorted(versions, reverse=True) if version > server_major]
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            bin_dir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10, check=True)  # noqa: S607
            candidates.append(Path(bin_dir.stdout.strip()) / name)
        found = shutil.which(name)
        if found:
            candidates.append(Path(found))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            major = _tool_major(path)
            if major is not None and major >= server_major:
                return path
    raise BackupError(
        f"No {name} of PostgreSQL {server_major} or later was found (looked in "
        f"{', '.join(str(c) for c in candidates) or 'PATH'}). Install the PostgreSQL {server_major} client "
        f"tools, or name their folder with --pg-bindir."
    )


def _pg_env(params: dict[str, Any]) -> dict[str, str]:
    """libpq reads the connection from the environment, so the password never shows in `ps`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    mapping = {"HOST": "PGHOST", "PORT": "PGPORT", "USER": "PGUSER", "PASSWORD": "PGPASSWORD", "NAME": "PGDATABASE"}
    for key, var in mapping.items():
        if params.get(key):
            env[var] = str(params[key])
    sslmode = (params.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = str(sslmode)
    return env


def _run_tool(args: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip() and not _ROW_DATA_LINE.match(line)]
        raise BackupError(f"{what} failed (exit {result.returncode}): " + " | ".join(lines[-8:]))


def _require_postgresql() -> None:
    if connection.vendor != "postgresql":
        raise BackupError(
            "Backups need PostgreSQL. The embedded demo's SQLite database is one file under VAR_DIR; copy it instead."
        )


def _server_major() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        return int(cursor.fetchone()[0]) // 10000


# Reading the database -------------------------------------------------------------------------


def _table_counts() -> dict[str, int]:
    counts = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608 - names from the catalogue
            counts[table] = int(cursor.fetchone()[0])
    return counts


def _applied_migrations() -> dict[str, str]:
    """The last applied migration of each app (by the order they were applied)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT ON (app) app, name FROM django_migrations ORDER BY app, id DESC")
        return dict(cursor.fetchall())


def _chain_head() -> dict[str, Any]:
    head = AuditEvent.objects.order_by("-id").values("id", "hash").first()
    return {
        "events": AuditEvent.objects.count(),
        "head_id": head["id"] if head else None,
        "head_hash": head["hash"] if head else None,
    }


def _facts() -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for provider in hooks.providers("backup_facts"):
        facts.update(provider())
    return facts


def _app_version() -> str:
    try:
        return metadata.version("victimsupport")
    except metadata.PackageNotFoundError:
        return "unknown"


# Files -----------------------------------------------------------------------------------------


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def walk_storage(storage: Storage, prefix: str = "") -> Iterator[str]:
    """Every file name in a storage, depth first, sorted, through the storage API (disk or S3)."""
    try:
        dirs, files = storage.listdir(prefix)
    except FileNotFoundError:  # a storage folder not made yet holds nothing
        return
    for name in sorted(files):
        yield f"{prefix}/{name}" if prefix else name
    for name in sorted(dirs):
        yield from walk_storage(storage, f"{prefix}/{name}" if prefix else name)


def _safe_name(name: str) -> str:
    """A storage name from a backup's list must stay inside the evidence folder."""
    parts = name.split("/")
    if not name or name.startswith("/") or any(part in ("", ".", "..") for part in parts) or "\\" in name:
        raise BackupError(f"The backup lists an unsafe file name: {name!r}.")
    return name


def _folder_storage(folder: Path) -> FileSystemStorage:
    return FileSystemStorage(location=str(folder), file_permissions_mode=0o600, directory_permissions_mode=0o700)


def _storage_kind(storage: Storage) -> str:
    return "filesystem" if isinstance(storage, FileSystemStorage) else type(storage).__name__


def _read_list(folder: Path) -> list[tuple[str, str]]:
    entries = []
    prefix = f"{EVIDENCE_DIR}/"
    for line in (folder / EVIDENCE_LIST).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        sha, _, path = line.partition("  ")
        if len(sha) != 64 or not path.startswith(prefix):
            raise BackupError(f"{EVIDENCE_LIST} has a line that is not '<sha256>  {prefix}<name>'.")
        entries.append((sha, _safe_name(path[len(prefix) :])))
    return entries


# Backup ----------------------------------------------------------------------------------------


def create_backup(output: Path, *, include_evidence: bool = True, pg_bindir: str | None = None) -> Path:
    """Writes a complete backup folder under `output` and returns it.

    1. Open a read-only REPEATABLE READ transaction and export its snapshot.
    2. pg_dump that snapshot; count every table and read the chain head in the same snapshot.
    3. Copy the evidence storage (after the dump: see the module docstring).
    4. Write the manifest, then rename the folder from its ``.partial`` name: a folder without that
       suffix is always complete.
    5. Record `backup.created` (names and counts only).
    """
    _require_postgresql()
    if connection.in_atomic_block:
        raise BackupError("A backup cannot run inside a transaction: it needs a snapshot of its own.")
    dump_tool = pg_tool("pg_dump", _server_major(), pg_bindir)
    created = datetime.now(UTC)
    name = f"backup-{created.strftime('%Y%m%dT%H%M%SZ')}"
    output.mkdir(parents=True, exist_ok=True, mode=0o700)
    final = output / name
    if final.exists():
        raise BackupError(f"{final} already exists; wait a second and run the backup again.")
    work = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=output))
    try:
        manifest = _write_parts(work, created, dump_tool, include_evidence)
        manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8") + b"\n"
        (work / MANIFEST).write_bytes(manifest_bytes)
        for path in work.rglob("*"):
            path.chmod(0o700 if path.is_dir() else 0o600)
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    audit.record_now(
        "backup.created",
        actor=None,
        details={
            "backup": name,
            "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
            "tables": len(manifest["tables"]),
            "evidence_files": manifest["evidence"]["files"],
            "audit_head_id": manifest["audit_chain"]["head_id"],
        },
    )
    return final


def _write_parts(work: Path, created: datetime, dump_tool: Path, include_evidence: bool) -> dict[str, Any]:
    dump = work / DUMP_NAME
    params = connection.settings_dict
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Must be the transaction's first statement.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
            snapshot, server_version = cursor.fetchone()
        _run_tool(
            [str(dump_tool), "--format=custom", "--no-password", f"--snapshot={snapshot}", f"--file={dump}"],
            _pg_env(params),
            "pg_dump",
        )
        tables = _table_counts()
        migrations = _applied_migrations()
        chain = _chain_head()
        facts = _facts()
    evidence: dict[str, Any] = {"copied": include_evidence, "files": 0, "bytes": 0}
    if include_evidence:
        try:
            evidence.update(_copy_evidence_out(work))
        except OSError as exc:
            raise BackupError(f"Copying the evidence storage failed: {exc}") from exc
    return {
        "format": FORMAT,
        "created_at": created.isoformat(timespec="seconds"),
        "app_version": _app_version(),
        "database": {
            "name": params["NAME"],
            "server_version": server_version,
            "pg_dump": str(_tool_major(dump_tool)),
            "file": DUMP_NAME,
            "sha256": _sha256_file(dump),
            "size": dump.stat().st_size,
        },
        "migrations": migrations,
        "tables": tables,
        "audit_chain": chain,
        "evidence": evidence,
        "facts": facts,
    }


def _copy_evidence_out(work: Path) -> dict[str, Any]:
    source = storages["evidence"]
    target = work / EVIDENCE_DIR
    target.mkdir(mode=0o700)
    lines, files, size = [], 0, 0
    for name in walk_storage(source):
        dest = target / _safe_name(name)
        dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        digest = hashlib.sha256()
        with source.open(name, "rb") as src, dest.open("wb") as out:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
        lines.append(f"{digest.hexdigest()}  {EVIDENCE_DIR}/{name}\n")
        files += 1
    listing = work / EVIDENCE_LIST
    listing.write_text("".join(lines), encoding="utf-8")
    return {"storage": _storage_kind(source), "files": files, "bytes": size, "list": EVIDENCE_LIST,
            "list_sha256": _sha256_file(listing)}  # fmt: skip


# Restore ---------------------------------------------------------------------------------------


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BackupError(f"{path} does not exist: this is not a backup folder, or the backup did not finish.") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"{path} is not valid JSON.") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a backup manifest this release can read (format {manifest.get('format')!r}).")
    return manifest


def check_parts(folder: Path, manifest: dict[str, Any]) -> None:
    """Every part is there and matches its SHA-256, before anything is restored."""
    dump = folder / manifest["database"]["file"]
    if not dump.is_file() or _sha256_file(dump) != manifest["database"]["sha256"]:
        raise BackupError(f"{dump.name} is missing or does not match the SHA-256 in the manifest.")
    evidence = manifest["evidence"]
    if not evidence["copied"]:
        return
    listing = folder / EVIDENCE_LIST
    if not listing.is_file() or _sha256_file(listing) != evidence["list_sha256"]:
        raise BackupError(f"{EVIDENCE_LIST} is missing or does not match the SHA-256 in the manifest.")
    entries = _read_list(folder)
    if len(entries) != evidence["files"]:
        raise BackupError(f"{EVIDENCE_LIST} lists {len(entries)} files; the manifest says {evidence['files']}.")
    bad = [name for sha, name in entries if not (folder / EVIDENCE_DIR / name).is_file()
           or _sha256_file(folder / EVIDENCE_DIR / name) != sha]  # fmt: skip
    if bad:
        raise BackupError(f"{len(bad)} evidence files of the backup are missing or altered, for example {EVIDENCE_DIR}/{bad[0]}.")


def _check_migrations(manifest: dict[str, Any]) -> None:
    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    unknown = sorted(f"{app}.{name}" for app, name in manifest["migrations"].items() if (app, name) not in known)
    if unknown:
        raise BackupError(
            "The backup was taken with a later release: this code does not have the migrations "
            + ", ".join(unknown[:5])
            + f". Restore with release {manifest.get('app_version')} or later."
        )


def _target_params(database_url: str | None) -> dict[str, Any]:
    if not database_url:
        return dict(connection.settings_dict)
    params: dict[str, Any] = dict(dj_database_url.parse(database_url))
    if "postgresql" not in params["ENGINE"]:
        raise BackupError("--database-url must be a PostgreSQL URL (postgres://user:password@host:5432/name).")
    return params


def _database_is_empty(params: dict[str, Any]) -> bool:
    import psycopg2

    conn = psycopg2.connect(
        dbname=params["NAME"], user=params.get("USER") or None, password=params.get("PASSWORD") or None,
        host=params.get("HOST") or None, port=params.get("PORT") or None, **(params.get("OPTIONS") or {}),
    )  # fmt: skip
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%' "
                "AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')"
            )
            return int(cursor.fetchone()[0]) == 0
    finally:
        conn.close()


def _target_storage(evidence_dir: Path | None) -> Storage:
    return _folder_storage(evidence_dir) if evidence_dir else storages["evidence"]


def restore_backup(
    folder: Path,
    *,
    database_url: str | None = None,
    evidence_dir: Path | None = None,
    include_evidence: bool = True,
    force: bool = False,
    pg_bindir: str | None = None,
) -> CheckReport:
    """Restores a backup into an empty database and evidence storage, then checks the result.

    1. Read the manifest; check every part's SHA-256 and that this code knows the backup's
       migrations. Nothing is touched until all of that holds.
    2. Refuse a target database or evidence storage that is not empty (unless force).
    3. pg_restore the whole dump (schema, data, then the append-only triggers, so loading the rows
       never meets them) in one transaction: a failure leaves the database as it was.
    4. Copy the evidence files into the target storage.
    5. Run check_restore() against the target and record `backup.restored` there.
    """
    manifest = read_manifest(folder)
    check_parts(folder, manifest)
    _check_migrations(manifest)
    params = _target_params(database_url)
    copy_files = include_evidence and manifest["evidence"]["copied"]
    target = _target_storage(evidence_dir)
    if not force:
        if not _database_is_empty(params):
            raise BackupError(
                f"The database {params['NAME']} is not empty. Restore into a new, empty database, "
                "or pass --force to replace what it holds."
            )
        if copy_files and next(walk_storage(target), None) is not None:
            raise BackupError("The evidence storage is not empty. Restore into an empty one, or pass --force.")
    import psycopg2

    try:
        major = _major_of(params)
    except psycopg2.Error as exc:
        raise BackupError(f"Cannot connect to the database {params['NAME']}: {str(exc).strip()}") from exc
    restore_tool = pg_tool("pg_restore", major, pg_bindir)
    args = [str(restore_tool), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--no-password"]
    if force:
        args += ["--clean", "--if-exists"]
    _run_tool([*args, f"--dbname={params['NAME']}", str(folder / manifest["database"]["file"])], _pg_env(params),
              "pg_restore")  # fmt: skip
    if copy_files:
        try:
            _copy_evidence_in(folder, target, replace=force)
        except (OSError, BackupError) as exc:
            raise BackupError(
                f"The database was restored, but copying the evidence failed: {exc} "
                "Run the restore again with --force once the cause is fixed."
            ) from exc
    with use_target(database_url, evidence_dir):
        report = check_restore(folder)
        audit.record_now(
            "backup.restored",
            actor=None,
            details={"backup": folder.name, "created_at": manifest["created_at"], "check_ok": report.ok},
        )
    return report


def _major_of(params: dict[str, Any]) -> int:
    import psycopg2

    conn = psycopg2.connect(
        dbname=params["NAME"], user=params.get("USER") or None, password=params.get("PASSWORD") or None,
        host=params.get("HOST") or None, port=params.get("PORT") or None, **(params.get("OPTIONS") or {}),
    )  # fmt: skip
    try:
        return int(conn.server_version) // 10000
    finally:
        conn.close()


def _copy_evidence_in(folder: Path, target: Storage, *, replace: bool) -> None:
    for _sha, name in _read_list(folder):
        if replace and target.exists(name):
            target.delete(name)
        with (folder / EVIDENCE_DIR / name).open("rb") as fh:
            saved = target.save(name, File(fh, name=name))
        if saved != name:
            raise BackupError(f"The evidence storage stored {name} as {saved}: it was not empty. Nothing else was copied.")


@contextlib.contextmanager
def use_target(database_url: str | None = None, evidence_dir: Path | None = None) -> Iterator[None]:
    """Points this process's default database and evidence storage at a restored copy for a while.

    The services (audit, evidence verification) use the default connection and the "evidence"
    storage; swapping those two, rather than passing a target around, lets the check reuse them
    unchanged. Only for management commands and tests, outside any transaction.
    """
    saved = None
    if database_url:
        current = connections[DEFAULT_DB_ALIAS]
        if current.in_atomic_block:
            raise BackupError("Cannot switch databases inside a transaction.")
        params = _target_params(database_url)
        settings_dict = {
            **current.settings_dict,
            "OPTIONS": {**current.settings_dict.get("OPTIONS", {}), **(params.get("OPTIONS") or {})},
        }
        settings_dict.update({key: params[key] for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT")})
        saved = current
        connections[DEFAULT_DB_ALIAS] = load_backend(current.settings_dict["ENGINE"]).DatabaseWrapper(
            settings_dict, DEFAULT_DB_ALIAS
        )
    storage_override: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if evidence_dir:
        from django.test.utils import override_settings

        # override_settings signals Django to drop its cached storage objects, and restores them after.
        storage_override = override_settings(
            STORAGES={**settings.STORAGES, "evidence": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(evidence_dir), "file_permissions_mode": 0o600, "directory_permissions_mode": 0o700},
            }},
        )  # fmt: skip
    try:
        with storage_override:
            yield
    finally:
        if saved is not None:
            connections[DEFAULT_DB_ALIAS].close()
            connections[DEFAULT_DB_ALIAS] = saved


# The check -------------------------------------------------------------------------------------


def check_restore(folder: Path | None = None) -> CheckReport:
    """Checks the database and evidence storage this process points at; records `backup.verified`.

    Reads come first (row counts, the audit chain), since verifying evidence appends custody and
    audit events. With the backup folder, every table must hold at least the backup's rows (more is
    noted: a copy that was checked or used since has more), the backup's chain head must be in the
    chain, and every file of the backup must be in the storage.
    """
    _require_postgresql()
    manifest = read_manifest(folder) if folder else None
    checks: list[Check] = []
    if manifest is not None:
        checks.append(_check_counts(manifest))
    checks.append(_check_chain(manifest))
    if folder is not None and manifest is not None and manifest["evidence"]["copied"]:
        checks.append(_check_files(folder, manifest))
    for provider in hooks.providers("restore_checks"):
        checks.extend(provider(manifest=manifest))
    report = CheckReport(checks)
    audit.record_now(
        "backup.verified",
        actor=None,
        details={
            "ok": report.ok,
            "backup": manifest["created_at"] if manifest else "",
            "failed": [check.name for check in checks if not check.ok],
        },
    )
    return report


def _check_counts(manifest: dict[str, Any]) -> Check:
    now = _table_counts()
    problems, more = [], []
    for table, expected in sorted(manifest["tables"].items()):
        found = now.get(table)
        if found is None:
            problems.append(f"table {table} is missing (the backup had {expected} rows)")
        elif found < expected:
            problems.append(f"table {table} has {found} rows; the backup had {expected}")
        elif found > expected:
            more.append(table)
    summary = f"{len(manifest['tables'])} tables compared with the manifest"
    if more:
        summary += f"; more rows than the backup in {len(more)} ({', '.join(more[:5])})"
    return Check("row counts", not problems, summary, problems)


def _check_chain(manifest: dict[str, Any] | None) -> Check:
    report = audit.verify_chain()
    problems = []
    if not report.ok:
        problems.append(f"broken at event {report.broken_at}: {report.reason}")
    head = (manifest or {}).get("audit_chain") or {}
    if head.get("head_id") is not None:
        found = AuditEvent.objects.filter(pk=head["head_id"]).values_list("hash", flat=True).first()
        if found is None:
            problems.append(f"the backup's last event {head['head_id']} is missing")
        elif found != head["head_hash"]:
            problems.append(f"event {head['head_id']} does not have the hash the backup recorded for it")
    return Check("audit chain", not problems, f"{report.checked} events checked", problems)


def _check_files(folder: Path, manifest: dict[str, Any]) -> Check:
    expected = manifest["evidence"]["files"]
    names = set(walk_storage(storages["evidence"]))
    missing = [name for _sha, name in _read_list(folder) if name not in names]
    problems = [f"{len(missing)} files of the backup are not in the storage, for example {missing[0]}"] if missing else []
    return Check("evidence files", not problems, f"{len(names)} files in the storage, {expected} in the backup", problems)
