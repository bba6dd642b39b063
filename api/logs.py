"""Structured logs: one line an event (JSON in production), each carrying the id of the request
and the name of the GraphQL operation it belongs to. Log ids, never e-mails, tokens or bodies."""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from typing import IO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.orjson import OrjsonFormatter

from api.settings import Settings

# Set by the HTTP edge for the duration of a request; read by every log line written meanwhile.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
operation_name: ContextVar[str | None] = ContextVar("operation_name", default=None)

# uvicorn's own loggers: they go through the root handler below instead of their own.
_SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.asgi")


class RequestFields(logging.Filter):
    """Adds ``request_id`` and ``operation`` to every record that passes the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.operation = operation_name.get()
        return True


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The one handler :func:`configure_logging` installs (and replaces when called again)."""


def json_formatter() -> logging.Formatter:
    """``timestamp`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, ``request_id``,
    ``operation``, any ``extra`` fields, and ``exc_info`` with the traceback. Encoded by orjson
    (compact, UTF-8): the standard library's encoder took twice as long, and every request
    writes a line (bench/edge_cpu.py)."""
    return OrjsonFormatter(
        "{levelname}{name}{message}{request_id}{operation}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp=True,
        # uvicorn repeats its message with terminal colours in an extra field.
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],
    )


class _TextFormatter(logging.Formatter):
    """logging's default time layout (``2026-11-27 12:00:00,123``), its text made once a second
    rather than at every line."""

    _second: int | None = None
    _text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:
            self._text = time.strftime(self.default_time_format, self.converter(second))
            self._second = second
        return self.default_msec_format % (self._text, record.msecs)


def text_formatter() -> logging.Formatter:
    return _TextFormatter(
        "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(operation)s] %(message)s"
    )


def handler(json_lines: bool, stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler writing our format, with the request fields filled in."""
    installed = _Handler(stream or sys.stderr)
    installed.addFilter(RequestFields())
    installed.setFormatter(json_formatter() if json_lines else text_formatter())
    return installed


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> None:
    """Route every logger (uvicorn's included) through one handler in the configured format.
    Safe to call again: the handler it installed before is replaced."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        # Ours from an earlier call, and logging.basicConfig's; a test runner's stay.
        if type(existing) in (_Handler, logging.StreamHandler):
            root.removeHandler(existing)
    root.addHandler(handler(settings.json_logs, stream))
    root.setLevel(settings.log_level.upper())
    for name in _SERVER_LOGGERS:
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.propagate = True
    # Our own access event (api/http_edge.py) replaces uvicorn's, which logs the query string.
    logging.getLogger("uvicorn.access").disabled = True
