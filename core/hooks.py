"""Named events that lower apps fire and higher apps handle, so dependencies stay one-way.

Dependencies run hashing <- core <- cases <- evidence <- takedowns: cases may not import
takedowns, yet a consent change must update the partner hash list that takedowns keeps. So cases
fires "consent_changed" here and takedowns registers a handler in its AppConfig.ready().

Events fired today (keyword arguments only):

- "consent_changed": case, kind, granted, acting_user. Fired by cases.services.consent_record.
- "fingerprints_added": evidence. Fired by evidence.services when fingerprints are stored.
- "intake_urls_added": report, urls. Fired by cases.intake when a report becomes a case, and
  when a reporter adds addresses later; takedowns turns them into drafts.
- "intake_url_progress" (a question, see providers()): takes takedown ids, returns plain-word
  progress per id for the reporter's status page.
- "intake_prepare_files" (a question): takes [(path, name)], checks and stores the files, returns
  opaque records; "intake_attach_files": report, files; "intake_discard_files" (called with the
  records): deletes the stored blobs of a report that was not made. Handled by evidence.
- "intake_case_opened": report, case — files become evidence of the case after the commit.
- "intake_reports_purged": report_ids — the files of purged reports are deleted after the commit.
- "case_purging" (a question, see providers()): case_ids — the retention purge (cases/retention.py)
  asks each app to delete its rows of these cases and answer {what: count}. Called in reverse
  order of registration (takedowns, then evidence), because the higher apps' rows point at the
  lower apps' rows. "case_purge_preview" answers the same counts without deleting (dry run).
- "retention_sweep" (a question): apply, now — an app's own retention chores (evidence: expired
  download grants, file deletions to retry); answers {name: {"days", "due", "purged"}}.
- "backup_facts" (a question): returns a dict of facts for a backup's manifest, read inside the
  backup's snapshot; "restore_checks" (a question): manifest (or None), returns a list of
  core.backup.Check for the check after a restore. Handled by evidence.

Handlers run synchronously, inside the firing service's transaction and after its own audit
event, so what they write commits or rolls back with it. An exception in a handler propagates
and rolls the whole action back: better a refused action than a consent withdrawal that did not
reach the hash list. Handlers must not make outbound calls (no I/O inside a transaction).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Handler = Callable[..., Any]

_handlers: dict[str, list[Handler]] = {}


def register(event: str, fn: Handler) -> None:
    """Adds a handler for an event. Registering the same function twice keeps one."""
    handlers = _handlers.setdefault(event, [])
    if fn not in handlers:
        handlers.append(fn)


def unregister(event: str, fn: Handler) -> None:
    """For tests that replace a handler."""
    handlers = _handlers.get(event, [])
    if fn in handlers:
        handlers.remove(fn)


def fire(event: str, **kwargs: Any) -> None:
    """Calls every handler of the event, in registration order, with the keyword arguments."""
    for fn in list(_handlers.get(event, ())):
        fn(**kwargs)


def providers(event: str) -> list[Handler]:
    """The handlers of an event, for events that answer a question (each returns a value)."""
    return list(_handlers.get(event, ()))
