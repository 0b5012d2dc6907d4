from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # Registers the OpenAPI descriptions of our authentication classes.
        from core.api import schema  # noqa: F401
