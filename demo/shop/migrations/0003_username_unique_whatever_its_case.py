"""Usernames unique whatever their case, in the database itself (shop.services.register)."""

from django.db import migrations

INDEX = "shop_auth_user_username_upper_unique"


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0002_order_idempotency_key"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE UNIQUE INDEX {INDEX} ON auth_user (UPPER(username))",
            f"DROP INDEX {INDEX}",
        )
    ]
