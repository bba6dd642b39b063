"""Unit tests of the API's pure helpers."""
