from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "evidence"

    def ready(self) -> None:
        from core import hooks
        from core.panels import register_case_panel
        from evidence import checks, intake_files  # noqa: F401 - importing checks registers the probe sandbox's deploy check
        from evidence.panels import case_evidence_panel

        register_case_panel(case_evidence_panel)
        # Files sent with public reports (the intake pages live in cases).
        hooks.register("intake_prepare_files", intake_files.prepare)
        hooks.register("intake_attach_files", intake_files.attach)
        hooks.register("intake_discard_files", intake_files.discard)
        hooks.register("intake_file_summary", intake_files.file_summary)
        hooks.register("intake_case_opened", intake_files.on_case_opened)
        hooks.register("intake_reports_purged", intake_files.on_reports_purged)
        # The retention process (cases/retention.py) purges a case's evidence through these.
        from evidence import retention

        retention.register()
        # Backups and the check after a restore (core/backup.py).
        from evidence import backup_checks

        hooks.register("backup_facts", backup_checks.backup_facts)
        hooks.register("restore_checks", backup_checks.restore_checks)
