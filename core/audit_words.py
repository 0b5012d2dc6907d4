"""Audit actions in words: the audit log stores codes (`case.create`), people read sentences.

The log keeps codes because they never change with the language or a rewording and the hash
chain covers them. This table turns them into words in the reader's language. An action missing
here (a new service added one and forgot this table) is still shown in words, built from its two
halves, so a reader never meets a bare code; tests/core/test_audit_page.py checks that every
action written by the code has its own entry.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

ACTIONS: dict[str, Promise] = {
    # Sign-in and accounts
    "auth.login": _("Signed in"),
    "auth.logout": _("Signed out"),
    "auth.locked_out": _("Sign-in locked after failed attempts"),
    "auth.password_reset": _("Password reset"),
    "auth.two_factor_enrolled": _("Authenticator enrolled"),
    "auth.two_factor_enrolment_started": _("Authenticator enrolment started"),
    "user.create": _("Staff account created"),
    "user.enable": _("Staff account enabled"),
    "user.disable": _("Staff account disabled"),
    "user.role_change": _("Role changed"),
    "user.centre_change": _("Moved to another centre"),
    "user.two_factor_reset": _("Authenticator reset"),
    "user.invite": _("Invitation sent"),
    "user.invitation_accepted": _("Invitation accepted"),
    "user.invitation_cancelled": _("Invitation cancelled"),
    "user.approve": _("Staff account approved"),
    "user.approval_required": _("Staff account waits for approval"),
    "api_token.issue": _("API token issued"),
    "api_token.revoke": _("API token revoked"),
    "centre.create": _("Centre created"),
    # Cases and victims
    "case.create": _("Case opened"),
    "case.view": _("Case viewed"),
    "case.update": _("Case details edited"),
    "case.status": _("Case status changed"),
    "case.assign": _("Case assigned"),
    "case.note": _("Note added to a case"),
    "victim.identity_view": _("Victim's identity viewed"),
    "consent.grant": _("Consent given"),
    "consent.withdraw": _("Consent withdrawn"),
    "consent.override": _("Consent overridden"),
    "referral.create": _("Referral made"),
    "referral.status": _("Referral status changed"),
    "legal_hold.set": _("Legal hold set"),
    "legal_hold.lift": _("Legal hold lifted"),
    "deletion.requested": _("Data deletion requested"),
    "deletion.approved": _("Data deletion approved"),
    "deletion.refused": _("Data deletion refused"),
    "deletion.on_hold": _("Data deletion waiting for a legal hold"),
    "retention.run": _("Retention run"),
    "retention.purged": _("Records deleted by retention"),
    # Public reports
    "intake.received": _("Public report received"),
    "intake.view": _("Public report viewed"),
    "intake.urls_added": _("Reporter added addresses"),
    "intake.files_added": _("Reporter added files"),
    "intake.file_dropped": _("A file of a public report could not be read and was dropped"),
    "intake.reply": _("Reporter sent a message"),
    "intake.staff_message": _("Staff replied to a reporter"),
    "intake.consent_withdrawn": _("Reporter withdrew consent"),
    "intake.deletion_requested": _("Reporter asked for deletion"),
    "intake.case_opened": _("Case opened from a public report"),
    "intake.attached": _("Public report added to a case"),
    "intake.routed": _("Public report sent to a centre"),
    # Evidence
    "evidence.add": _("Evidence added"),
    "evidence.view": _("Evidence viewed"),
    "evidence.download_grant": _("Original download allowed"),
    "evidence.reveal": _("Evidence viewed unblurred"),
    "evidence.download": _("Original downloaded"),
    "evidence.export": _("Evidence exported"),
    "evidence.fingerprint": _("Evidence fingerprinted"),
    "evidence.fingerprinted": _("Evidence fingerprinted"),
    "evidence.fingerprint_failed": _("Fingerprinting failed"),
    "evidence.verified": _("Evidence checked: unchanged"),
    "evidence.verify_failed": _("Evidence check failed"),
    "evidence.keys_rewrapped": _("Evidence keys rotated"),
    "evidence.capture_requested": _("Page capture requested"),
    "evidence.capture_done": _("Page captured"),
    "evidence.capture_failed": _("Page capture failed"),
    # Takedowns
    "platform.create": _("Platform added"),
    "platform.load_fixture": _("Platform list loaded"),
    "takedown.create": _("Takedown request created"),
    "takedown.bulk_create": _("Takedown requests created in bulk"),
    "takedown.platform": _("Platform of a request set"),
    "takedown.approve": _("Takedown approved"),
    "takedown.notice_delivered": _("Notice delivered"),
    "takedown.notices_delivered": _("Notices delivered"),
    "takedown.notice_failed": _("Notice failed"),
    "takedown.notice_retry": _("Notice sent again"),
    "takedown.manual_done": _("Web-form notice done by hand"),
    "takedown.acknowledged": _("Platform acknowledged"),
    "takedown.rejected": _("Platform refused"),
    "takedown.removed": _("Removal confirmed by our check"),
    "takedown.reappeared": _("Material found again"),
    "takedown.recheck_requested": _("Re-check requested"),
    "takedown.unavailable": _("Page already gone before a notice was needed"),
    "takedown.cloak_suspected": _("Suspected cloaking: a page looked gone to one check, a second look found it"),
    "takedown.followed": _("Duplicate requests followed their original"),
    "takedown.export": _("Takedown list exported"),
    "takedown.reminder": _("Deadline reminder"),
    "takedown.overdue": _("Deadline passed"),
    "takedown.escalate": _("Escalation requested"),
    "takedown.escalated": _("Escalated to the regulator"),
    "watchlist.create": _("Watchlist created"),
    "watchlist.scanned": _("Watchlist scanned"),
    "watchlist.match": _("Watchlist found known material"),
    "hashlist.sync": _("Partner hash list read"),
    "hashlist.feedback": _("Partner feedback on the hash list"),
    "hashlist.quarantine": _("Fingerprint held back from partners"),
    "hashlist.release": _("Fingerprint released to partners"),
    "compliance.regulator_report": _("Regulator report made"),
    # Operations
    "audit.chain_verified": _("Audit chain checked: whole"),
    "audit.chain_broken": _("Audit chain checked: broken"),
    "backup.created": _("Backup made"),
    "backup.restored": _("Backup restored"),
    "backup.verified": _("Restored backup checked"),
    "task.retry": _("Failed work retried"),
    "task.retry_not_sent": _("Failed work could not be retried"),
    "task.dismiss": _("Failed work dismissed"),
}

# The first half of an action, for actions missing from ACTIONS.
SUBJECTS: dict[str, Promise] = {
    "auth": _("Sign-in"),
    "user": _("Staff account"),
    "api_token": _("API token"),
    "centre": _("Centre"),
    "case": _("Case"),
    "victim": _("Victim"),
    "consent": _("Consent"),
    "referral": _("Referral"),
    "legal_hold": _("Legal hold"),
    "deletion": _("Data deletion"),
    "retention": _("Retention"),
    "intake": _("Public report"),
    "evidence": _("Evidence"),
    "platform": _("Platform"),
    "takedown": _("Takedown request"),
    "watchlist": _("Watchlist"),
    "hashlist": _("Partner hash list"),
    "compliance": _("Compliance"),
    "audit": _("Audit log"),
    "backup": _("Backup"),
    "task": _("Failed work"),
}

# Record types (the model's app_label.model_name), for the "Record" column.
RECORDS: dict[str, Promise] = {
    "cases.case": _("Case"),
    "cases.victim": _("Victim"),
    "cases.intakereport": _("Public report"),
    "cases.deletionrequest": _("Data deletion request"),
    "cases.deletiontombstone": _("Deleted report"),
    "cases.legalhold": _("Legal hold"),
    "cases.referral": _("Referral"),
    "evidence.evidence": _("Evidence"),
    "evidence.capture": _("Page capture"),
    "takedowns.takedownrequest": _("Takedown request"),
    "takedowns.notice": _("Notice"),
    "takedowns.platform": _("Platform"),
    "takedowns.watchlist": _("Watchlist"),
    "core.user": _("Staff account"),
    "core.centre": _("Centre"),
    "core.taskfailure": _("Failed work"),
    "core.auditevent": _("Audit event"),
}


def _humanise(code: str) -> str:
    return code.replace("_", " ").strip().capitalize()


def describe_action(action: str) -> str:
    """The action in the reader's language; never a bare code."""
    known = ACTIONS.get(action)
    if known is not None:
        return str(known)
    subject, _dot, verb = action.partition(".")
    label = SUBJECTS.get(subject)
    head = str(label) if label is not None else _humanise(subject)
    return f"{head}: {_humanise(verb)}" if verb else head


def describe_record(object_type: str) -> str:
    label = RECORDS.get(object_type)
    if label is not None:
        return str(label)
    return _humanise(object_type.rpartition(".")[2]) if object_type else ""


def action_choices() -> list[tuple[str, str]]:
    """For the filter: every known action by its words, sorted in the reader's language."""
    return sorted(((code, str(label)) for code, label in ACTIONS.items()), key=lambda item: item[1])
