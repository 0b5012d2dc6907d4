from django.apps import AppConfig


class TakedownsConfig(AppConfig):
    name = "takedowns"
