"""Unit tests: the domain and small pure pieces of the API, with in-memory fakes and no database."""
