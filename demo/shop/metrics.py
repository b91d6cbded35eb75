"""What the shop counts, for /metrics (config/health.py)."""

from prometheus_client import Counter

PURCHASES = Counter("stockwire_purchases", "Purchase attempts, by outcome.", ["outcome"])
