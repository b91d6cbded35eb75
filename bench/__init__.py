"""Stockwire's benchmark harness: fan-out latency, sustained throughput, memory and CPU.

Run `python -m bench --help`; `make bench` runs every set-up side by side.
"""

import sys
from pathlib import Path

# The demo project (demo/config, demo/shop) is not installed; bench.purchase_cpu imports it,
# and the servers the harness starts get the same path (bench/setups.py).
DEMO = Path(__file__).resolve().parent.parent / "demo"
if str(DEMO) not in sys.path:
    sys.path.append(str(DEMO))
