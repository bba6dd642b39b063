"""Adapters to storage: SQLAlchemy tables and repositories, the unit of work, migrations, and
the stores of secrets and counters (password hashes, the card vault, the outbox, rate limits)."""
