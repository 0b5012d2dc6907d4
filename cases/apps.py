from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "Cases"

    def ready(self) -> None:
        from django.core import checks

        from cases.checks import retention_settings, triage_centre_setting
        from cases.retention_views import case_retention_panel
        from core.panels import register_case_panel

        # Legal hold and deletion requests on the case page (templates/cases/retention_panel.html).
        register_case_panel(case_retention_panel)
        # The public reports behind a case and their message thread (templates/cases/intake_panel.html).
        from cases.intake_views import case_intake_panel

        register_case_panel(case_intake_panel)
        # The "My work" page (core.views.my_work_view): new reports, unread messages, urgent cases.
        from cases.work import work_items
        from core.panels import register_work_source

        register_work_source(work_items)
        checks.register(retention_settings)
        # Not tagged "database": it must run in a plain `manage.py check` and at start-up (it
        # skips itself when there is no database to read yet).
        checks.register(triage_centre_setting)
