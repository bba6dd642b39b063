"""Tests in a real browser: the privacy center driven by Chromium through Playwright."""
