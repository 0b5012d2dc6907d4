from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # Importing core.api.schema registers the OpenAPI descriptions of our authentication
        # classes; core.taskmonitor connects the Celery signals (task timings for /metrics,
        # failures for the failed-work page).
        from core import checks, taskmonitor  # noqa: F401 - checks registers the deploy checks
        from core.api import schema  # noqa: F401

        taskmonitor.connect()
        # My work: accounts waiting for a supervisor's approval (core/accounts.py).
        from core.accounts import work_items
        from core.panels import register_work_source

        register_work_source(work_items)
