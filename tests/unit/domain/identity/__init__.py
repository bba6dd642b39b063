"""Unit tests of identity: passwords, sessions, tokens and their use cases."""
