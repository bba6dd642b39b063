"""Data-subject requests: their types, statuses and legal deadlines."""
