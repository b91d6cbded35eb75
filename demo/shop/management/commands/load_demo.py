"""Fill an empty shop with a demo catalog and demo logins (used by `make run`)."""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from shop import services
from shop.models import Item

DEMO_PASSWORD = "stockwire-demo"

DEMO_USERS = [("alice", False), ("bob", False), ("staff", True)]

DEMO_ITEMS = [
    ("KB-001", "Mechanical keyboard", "89.00", 12),
    ("MS-002", "Wireless mouse", "29.50", 40),
    ("HP-003", "Noise-cancelling headphones", "199.00", 5),
    ("MN-004", "27-inch monitor", "279.00", 8),
    ("WC-005", "HD webcam", "49.90", 20),
    ("DK-006", "USB-C dock", "119.00", 3),
    ("LS-007", "Laptop stand", "39.00", 25),
    ("MC-008", "Studio microphone", "129.00", 6),
    ("SS-009", "Portable SSD 1 TB", "99.00", 15),
    ("CH-010", "Ergonomic chair", "349.00", 2),
    ("LP-011", "Desk lamp", "34.00", 30),
    ("CB-012", "Limited-edition cable bundle", "19.00", 1),
]


class Command(BaseCommand):
    help = "Load the demo catalog and demo users if the shop is empty."

    def handle(self, *args, **options):
        users = get_user_model().objects
        with transaction.atomic():
            for username, is_staff in DEMO_USERS:
                if not users.filter(username=username).exists():
                    users.create_user(
                        username=username,
                        email=f"{username}@example.com",
                        password=DEMO_PASSWORD,
                        is_staff=is_staff,
                        is_superuser=is_staff,
                    )
            if not Item.objects.exists():
                staff = users.get(username="staff")
                for sku, name, price, quantity in DEMO_ITEMS:
                    services.create_item(
                        actor=staff, sku=sku, name=name, price=Decimal(price), quantity=quantity
                    )
        logins = ", ".join(f"{name}{' (staff)' if staff else ''}" for name, staff in DEMO_USERS)
        self.stdout.write(f"Demo logins: {logins}; password for each: {DEMO_PASSWORD}")
