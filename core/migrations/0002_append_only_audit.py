from django.db import migrations

from core.dbguard import protect_table


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [protect_table("core_auditevent")]
