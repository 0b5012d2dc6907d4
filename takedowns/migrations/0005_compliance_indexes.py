# Indexes for the compliance figures (bench/compliance.py). Plain AddIndex: it runs inside the
# migration's transaction and locks writes to takedowns_takedownrequest while it builds (about
# 1-2 s per million rows).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('takedowns', '0004_matching_watchlists'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='takedownrequest',
            index=models.Index(fields=['sent_at'], name='compliance_sent_at'),
        ),
    ]
