"""Data provision (挂接与交换): the exchange store behind 库表 resources, push ingest of batches with
quality rules and quarantine, and their provenance (M12, M13, S14–S17)."""
