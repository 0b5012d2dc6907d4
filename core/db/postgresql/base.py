"""PostgreSQL backend whose *flush* may pass the append-only triggers.

Only the test settings use it: Django's TransactionTestCase empties every table with TRUNCATE
between tests, which the audit log's trigger (rightly) refuses. The flush sets the same
transaction-local flag that the audited retention process uses (core.dbguard), so tests exercise
the real triggers everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.backends.postgresql import base, operations

from core.dbguard import PURGE_FLAG


class DatabaseOperations(operations.DatabaseOperations):
    def execute_sql_flush(self, sql_list: Iterable[str]) -> None:
        with transaction.atomic(using=self.connection.alias):
            with self.connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, 'on', true)", [PURGE_FLAG])
            super().execute_sql_flush(sql_list)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
