"""The application factory: wires settings, storage and the schema into a FastAPI app."""

from __future__ import annotations

import dataclasses
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from api import graphql_http, privacy_center
from api.availability import is_unavailable, unavailable_error
from api.context import Context, TrustedProxies
from api.customer.export import export_routes
from api.documents.edge import GraphQLEdge
from api.documents.router import TrustedDocumentsRouter
from api.errors import MASKED_MESSAGE, redact, refusal_extensions
from api.health import readiness_routes
from api.http_edge import BodyLimit, CorsPolicy, HttpEdge, graphiql_policy
from api.logs import configure_logging, request_id
from api.metrics import install_metrics, note_graphql_response
from api.network import SystemResolver
from api.schema import build_schema
from api.settings import Settings
from domain.consent.model import ConsentDefaults
from domain.dependencies import AccountLinks, Dependencies, RequestClock
from domain.identity.model import SessionPolicy
from domain.mail.model import MAIL_RETRIES
from domain.ports import Throttle
from domain.requests.deadlines import WorkingCalendar
from domain.webhooks.targets import TargetRules
from persistence.card_vault import LocalCardVault, VaultKeyring
from persistence.database import Timeouts, create_engine, is_sqlite
from persistence.passwords import Argon2Parameters, Argon2PasswordHasher, one_malloc_arena
from persistence.rate_limits import WindowRateLimiter
from persistence.read_pool import ReadPool
from persistence.unit_of_work import SqlUnitOfWorkFactory

log = logging.getLogger("datarights")

# When this service began to honour Global Privacy Control (GPC specification, section 3.3).
GPC_SUPPORT_SINCE = "2026-11-26"


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def build_dependencies(settings: Settings) -> Dependencies:
    """The adapters the settings ask for."""
    keyring = VaultKeyring.parse(settings.card_vault_keys, settings.card_vault_active_key)
    timeouts = Timeouts(
        connect=settings.database_connect_timeout_seconds,
        statement=settings.database_statement_timeout_seconds,
        pool=settings.database_pool_timeout_seconds,
    )
    engine = create_engine(
        settings.database_url, pool_size=settings.database_pool_size, timeouts=timeouts
    )
    read_pool = None
    if settings.database_read_pool_size and not is_sqlite(settings.database_url):
        read_pool = ReadPool(engine, settings.database_read_pool_size, timeouts)
    return Dependencies(
        unit_of_work=SqlUnitOfWorkFactory(
            engine, lambda conn: LocalCardVault(conn, keyring), keyring, read_pool
        ),
        clock=SystemClock(),
        hasher=Argon2PasswordHasher(
            Argon2Parameters(
                settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
            ),
            max_concurrent=settings.password_hashes_at_once,
            idle_seconds=settings.password_hash_idle_ms / 1000,
        ),
        limiter=WindowRateLimiter(
            {
                Throttle.LOGIN_ACCOUNT: settings.login_attempts_per_account,
                Throttle.LOGIN_IP: settings.login_attempts_per_ip,
                Throttle.REGISTRATION_IP: settings.registrations_per_ip,
                Throttle.PASSWORD_RESET: settings.password_resets_per_address,
                Throttle.PASSWORD_RESET_IP: settings.password_resets_per_ip,
                Throttle.STAFF_LOGIN: settings.staff_login_attempts_per_account,
                Throttle.CODE_ATTEMPTS_IP: settings.code_attempts_per_ip,
            },
            settings.redis_url,
        ),
        links=AccountLinks(settings.public_url),
        requests=RequestClock(
            WorkingCalendar(
                settings.requests_country,
                settings.requests_subdivision,
                settings.requests_timezone,
            ),
            settings.requests_max_days,
        ),
        consent_defaults=ConsentDefaults(
            promotions_and_events=settings.default_promotions_and_events,
            product_updates=settings.default_product_updates,
            sales_follow_up=settings.default_sales_follow_up,
        ),
        sessions=SessionPolicy(
            idle_timeout=timedelta(minutes=settings.session_idle_minutes),
            absolute_timeout=timedelta(hours=settings.session_absolute_hours),
        ),
        staff_sessions=SessionPolicy(
            idle_timeout=timedelta(minutes=settings.staff_session_idle_minutes),
            absolute_timeout=timedelta(hours=settings.staff_session_absolute_hours),
        ),
        # Production sends webhooks over HTTPS to public addresses only; development may use
        # plain HTTP to this machine.
        webhook_targets=TargetRules() if settings.production else TargetRules.development(),
        resolver=SystemResolver(),
        policy_calendar=WorkingCalendar(
            settings.policy_country, settings.policy_subdivision, settings.policy_timezone
        ),
        mail_retries=dataclasses.replace(MAIL_RETRIES, max_attempts=settings.mail_max_attempts),
        aggregate_min_group_size=settings.aggregate_min_group_size,
    )


async def close_dependencies(deps: Dependencies) -> None:
    """Release connections and threads that :func:`build_dependencies` opened."""
    await deps.unit_of_work.close()  # type: ignore[attr-defined]
    await deps.limiter.close()  # type: ignore[attr-defined]
    deps.hasher.close()  # type: ignore[attr-defined]


class DataRightsRouter(TrustedDocumentsRouter):
    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # A request error executed nothing: its response has no data entry at all.
        response: GraphQLHTTPResponse = (
            {} if graphql_http.is_request_error(result) else {"data": result.data}
        )
        if result.errors:
            response["errors"] = [_formatted(error) for error in result.errors]
        if result.extensions:
            response["extensions"] = result.extensions
        note_graphql_response(response)
        return response


def _formatted(error: Any) -> dict[str, Any]:
    if is_unavailable(error.original_error):
        # An outage that escaped the schema's masking (raised outside any resolver).
        error = unavailable_error(error)
    formatted: dict[str, Any] = error.formatted
    formatted["message"] = redact(formatted["message"])
    extensions = formatted.setdefault("extensions", {})
    extensions.update(refusal_extensions(error.original_error))
    if "code" not in extensions:
        # What is not ours and not masked is GraphQL refusing the document or its variables.
        masked = formatted["message"] == MASKED_MESSAGE
        extensions["code"] = "INTERNAL_SERVER_ERROR" if masked else "BAD_REQUEST"
    if extensions["code"] in ("INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"):
        extensions["requestId"] = request_id.get()  # the log has the detail under this id
    return formatted


class DataRightsApp(FastAPI):
    """FastAPI behind the app's own edge (``edge``): every HTTP request enters the edge first
    (api/http_edge.py), and reaches FastAPI's routing, with its own middleware (server errors,
    telemetry, its body limit), only through ``framework``, when the edge has not answered.
    As FastAPI middleware the edge ran inside those three layers, which cost a trusted `me` more
    CPU than its own answer (docs/performance.md); the edge answers a fault nothing inside
    caught, as FastAPI's outermost layer did."""

    edge: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.edge is None or scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        await self.edge(scope, receive, send)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI itself, without the edge in front."""
        await super().__call__(scope, receive, send)

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        if self.edge is not None and isinstance(stack, ServerErrorMiddleware):
            # Starlette's last answer (always its outermost layer) would answer a fault with its
            # own bare 500 before the edge could give the masked one, or the 503 of an outage.
            return stack.app
        return stack


def create_app(settings: Settings | None = None, deps: Dependencies | None = None) -> DataRightsApp:
    """The ASGI app; tests pass their own settings (and may pass dependencies)."""
    settings = settings or Settings()
    deps = deps or build_dependencies(settings)
    proxies = TrustedProxies.parse(settings.trusted_proxies)

    async def context() -> Context:
        return Context(deps, settings, proxies)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await close_dependencies(deps)

    app = DataRightsApp(
        title="datarights",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    router = DataRightsRouter(
        build_schema(settings),
        settings,
        context_getter=context,
        deps=deps,
    )
    app.include_router(router, prefix="/graphql")
    app.include_router(export_routes(deps, settings.cookie_name))
    app.include_router(readiness_routes(settings))
    # Outermost first: the request id, access event, metrics and security headers of every
    # answer (/metrics is served beside /graphql) and CORS, the body limit before anything reads
    # the body, then the GraphQL edge (prepared trusted documents and Strawberry's view, answered
    # before routing), then FastAPI.
    app.edge = HttpEdge(
        BodyLimit(
            GraphQLEdge(app.framework, router=router, path="/graphql"),
            max_bytes=settings.max_body_bytes,
        ),
        cors=CorsPolicy(
            allow_origins=settings.allowed_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Authorization"],
            max_age=600,
        ),
        graphql_path="/graphql",
        metrics=install_metrics(app, settings, deps),
        hsts=settings.production,
        ide_path="/graphql",
        ide_policy=graphiql_policy(router.graphql_ide_html),
        page_policies={privacy_center.PATH: privacy_center.POLICY},
    )
    app.state.settings = settings
    app.state.deps = deps

    @app.get("/.well-known/gpc.json", include_in_schema=False)
    async def global_privacy_control() -> dict[str, object]:
        # The GPC specification: this site honours the signal (see docs/consent.md).
        return {"gpc": True, "lastUpdate": GPC_SUPPORT_SINCE}

    @app.get("/healthz", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    privacy_center.mount(app)
    return app


def app_from_environment() -> DataRightsApp:
    """For ``uvicorn --factory api.app:app_from_environment`` and ``datarights serve``."""
    settings = Settings()
    # Each worker process configures its own logging.
    configure_logging(settings)
    one_malloc_arena()
    app = create_app(settings)
    # What start-up built (modules, the schema, the app) lives as long as the process: moved
    # out of the collector's sight, it is not traversed again by every full collection.
    gc.collect()
    gc.freeze()
    return app
