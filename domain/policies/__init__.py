"""Versions of the privacy policy, announced ahead of the day they take effect."""
