"""JSON Schemas of the config file kinds: built from the registries, checked fast, with hints."""
