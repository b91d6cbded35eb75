"""Stockwire's benchmark harness: fan-out latency, sustained throughput, memory and CPU.

Run `python -m bench --help`; `make bench` runs every set-up side by side.
"""
