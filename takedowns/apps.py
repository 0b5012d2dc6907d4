from django.apps import AppConfig


class TakedownsConfig(AppConfig):
    name = "takedowns"

    def ready(self) -> None:
        from core.panels import register_case_panel
        from takedowns.panels import case_takedowns_panel

        register_case_panel(case_takedowns_panel)
