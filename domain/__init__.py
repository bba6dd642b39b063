"""The rules of datarights in plain Python: no GraphQL, HTTP or SQL here."""
