from django.apps import AppConfig


class TakedownsConfig(AppConfig):
    name = "takedowns"

    def ready(self) -> None:
        from core import hooks
        from core.panels import register_case_panel
        from takedowns import hashlist
        from takedowns.hashlist_panels import case_hashlist_panel
        from takedowns.panels import case_takedowns_panel

        register_case_panel(case_takedowns_panel)
        register_case_panel(case_hashlist_panel)
        # The "My work" page (core.views.my_work_view) counts what waits in takedowns.
        from core.panels import register_work_source
        from takedowns.work import work_items

        register_work_source(work_items)
        # Partner hash sharing follows consent and new fingerprints (cases and evidence fire these).
        hooks.register("consent_changed", hashlist.on_consent_changed)
        hooks.register("fingerprints_added", hashlist.on_fingerprints_added)
        # The public intake (in cases) hands addresses over and asks for their progress.
        from takedowns import intake_hooks

        hooks.register("intake_urls_added", intake_hooks.urls_to_drafts)
        hooks.register("intake_url_progress", intake_hooks.progress)
        # The outbox on the administrators' failed-work page and in /metrics (core.ops, core.metrics).
        from core.metrics import register_collector
        from core.ops import register_stuck_source
        from takedowns import ops

        register_stuck_source(ops.NOTICE_SOURCE)
        register_collector(ops.collect_metrics)
        # The retention process (cases/retention.py) purges a case's takedown rows through these.
        from takedowns import retention

        retention.register()
