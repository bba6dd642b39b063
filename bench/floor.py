"""The floor: the same database work as the product's `me` and `consentStates`, by hand.

Not the product. A minimal FastAPI + asyncpg app that ``bench/versus_floor.py`` serves with
uvicorn and as many workers as the product, so that each operation's throughput can be given as
a ratio of what the hardware, PostgreSQL and a Python ASGI server allow with the fewest
statements:

- ``POST /me``: ``Authorization: Bearer <session token>``; one SELECT of the session, by the
  sha256 hex of the token, joined to its customer; the row returned as JSON (orjson).
- ``POST /consent-states``: a JSON body ``{"ids": [...], "purposes": [...]}``; one SELECT …
  WHERE customer_id = ANY($1) AND subject = ANY($2). The partner's key is not checked (the
  product does check it: that is one of its statements the floor leaves out).
- ``POST /update-profile``: bearer session token and ``{"name": ...}``; one statement: the
  session's customer renamed (version + 1, updated_at), one ``profile_changes`` row, the row
  returned.
- ``POST /consent-changes``: ``{"purposes": [...], "after": [tx, id] | null}``; one SELECT of
  the next 100 sharing changes in (tx, id) order.
- ``POST /login``: ``{"email": ..., "password": ...}``; one SELECT of the customer by e-mail,
  argon2id verification in a thread (argon2-cffi, the hash's own parameters), one INSERT of a
  session; the token returned.

The database is ``FLOOR_DSN`` (an asyncpg DSN); each worker keeps a pool of 10 connections, as
the product's default pool size.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from fastapi import FastAPI, Request
from fastapi.responses import Response

ME_SQL = """
SELECT c.id, c.email, c.email_verified_at, c.name, c.company_name, c.phone, c.title,
       c.department, c.fax, c.industry, c.employee_count, c.annual_revenue_amount,
       c.annual_revenue_currency, c.address_line1, c.address_line2, c.address_city,
       c.address_region, c.address_postal_code, c.address_country, c.billing_name,
       c.billing_organization_users, c.billing_address_line1, c.billing_address_line2,
       c.billing_address_city, c.billing_address_region, c.billing_address_postal_code,
       c.billing_address_country, c.card_brand, c.card_last4, c.card_exp_month, c.card_exp_year,
       c.created_at, c.updated_at, c.version
FROM sessions s JOIN customers c ON c.id = s.customer_id
WHERE s.token_hash = $1 AND s.expires_at > now()
"""

STATES_SQL = """
SELECT customer_id, subject, granted, updated_at FROM consent_states
WHERE customer_id = ANY($1::uuid[]) AND subject = ANY($2::text[])
"""


RENAME_SQL = """
WITH session AS (
  SELECT customer_id FROM sessions WHERE token_hash = $1 AND expires_at > now()
), renamed AS (
  UPDATE customers c SET name = $2, updated_at = now(), version = c.version + 1
  FROM session WHERE c.id = session.customer_id
  RETURNING c.id, c.email, c.name, c.version, c.updated_at
), logged AS (
  INSERT INTO profile_changes (customer_id, field, changed_at, actor)
  SELECT id, 'name', now(), 'CUSTOMER' FROM renamed
)
SELECT * FROM renamed
"""

CHANGES_SQL = """
SELECT id, tx, customer_id, subject, granted, previous, source, actor, occurred_at
FROM consent_ledger
WHERE kind = 'SHARING' AND subject = ANY($1::text[]) AND source <> 'DEFAULT'
  AND (tx, id) > ($2, $3)
ORDER BY tx, id LIMIT 100
"""

LOGIN_SQL = "SELECT id, password_hash FROM customers WHERE email = $1"
SESSION_SQL = """
INSERT INTO sessions (id, token_hash, customer_id, created_at, last_seen_at, expires_at)
VALUES ($1, $2, $3, now(), now(), now() + interval '7 days')
"""
_hasher = PasswordHasher()


def _default(value: Any) -> Any:
    return str(value)  # Decimal


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(os.environ["FLOOR_DSN"], min_size=1, max_size=10)
    try:
        yield
    finally:
        await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> Response:
    return Response(b"ok")


def _json(body: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(body, default=_default), status_code=status, media_type="application/json"
    )


@app.post("/me")
async def me(request: Request) -> Response:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return _json({"errors": [{"message": "no token"}]}, 401)
    digest = hashlib.sha256(token.strip().encode()).hexdigest()
    row = await request.app.state.pool.fetchrow(ME_SQL, digest)
    if row is None:
        return _json({"errors": [{"message": "no session"}]}, 401)
    return _json({"data": {"me": dict(row)}})


@app.post("/consent-states")
async def consent_states(request: Request) -> Response:
    body = orjson.loads(await request.body())
    rows = await request.app.state.pool.fetch(STATES_SQL, body["ids"], body["purposes"])
    return _json({"data": {"consentStates": [dict(row) for row in rows]}})


@app.post("/update-profile")
async def update_profile(request: Request) -> Response:
    token = request.headers.get("authorization", "").partition(" ")[2]
    digest = hashlib.sha256(token.strip().encode()).hexdigest()
    name = orjson.loads(await request.body())["name"]
    row = await request.app.state.pool.fetchrow(RENAME_SQL, digest, name)
    if row is None:
        return _json({"errors": [{"message": "no session"}]}, 401)
    return _json({"data": {"updateProfile": {"customer": dict(row)}}})


@app.post("/consent-changes")
async def consent_changes(request: Request) -> Response:
    body = orjson.loads(await request.body())
    tx, entry = body.get("after") or (-1, -1)
    rows = await request.app.state.pool.fetch(CHANGES_SQL, body["purposes"], tx, entry)
    return _json({"data": {"consentChanges": [dict(row) for row in rows]}})


@app.post("/login")
async def login(request: Request) -> Response:
    body = orjson.loads(await request.body())
    row = await request.app.state.pool.fetchrow(LOGIN_SQL, body["email"])
    if row is None:
        return _json({"errors": [{"message": "no such customer"}]}, 401)
    try:
        await asyncio.to_thread(_hasher.verify, row["password_hash"], body["password"])
    except VerifyMismatchError:
        return _json({"errors": [{"message": "wrong password"}]}, 401)
    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    await request.app.state.pool.execute(SESSION_SQL, uuid.uuid4(), digest, row["id"])
    return _json({"data": {"login": {"token": token}}})


def main() -> int:
    """``python floor.py --host H --port P --workers N``: served as ``datarights serve`` serves
    the product (api/serving.py: a socket for each worker), so that neither side's ratio
    depends on how its connections happened to land on its workers."""
    import argparse
    import sys

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from api import serving

    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    return serving.run(
        "floor:app",
        args.workers,
        host=args.host,
        port=args.port,
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    raise SystemExit(main())
