"""Repositories: the domain's storage protocols over one SQLAlchemy connection."""
