"""Benchmarks: each module generates its inputs and prints a table (`python -m bench`)."""
