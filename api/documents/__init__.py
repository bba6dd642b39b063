"""Trusted documents over HTTP: the manifest check, requests by hash, and the prepared `me`."""
