from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "evidence"

    def ready(self) -> None:
        from core.panels import register_case_panel
        from evidence.panels import case_evidence_panel

        register_case_panel(case_evidence_panel)
