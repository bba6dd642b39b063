"""The privacy center: a page in the browser that uses the public /graphql like any front end."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

PATH = "/privacy-center"
STATIC = Path(__file__).parent / "static"

# Only this origin's own files and requests; no inline script or style anywhere on the page.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def mount(app: FastAPI) -> None:
    """Serve the page's HTML, CSS and JavaScript modules at /privacy-center/."""
    app.mount(PATH, StaticFiles(directory=STATIC, html=True), name="privacy-center")
