from __future__ import annotations

from celery import shared_task


@shared_task(name="cases.tasks.purge_stale_intake")
def purge_stale_intake() -> int:
    from cases.intake import purge_stale_reports

    return purge_stale_reports()
