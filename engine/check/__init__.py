"""Checks above configuration: validation (structure, resolution, SQL syntax) and warehouse dry runs."""
