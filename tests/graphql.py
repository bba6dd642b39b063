"""A small GraphQL-over-HTTP client for the tests: POST a document, read the JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from api.settings import Settings

# The service's own origin in the tests' settings (public_url is left at its default there).
OWN_ORIGIN = str(Settings.model_fields["public_url"].default)


@dataclass
class GraphQLClient:
    http: httpx.AsyncClient
    # Sent like a browser's Origin, so requests signed in by cookie pass the CSRF check.
    origin: str | None = OWN_ORIGIN

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if self.origin:
            headers["Origin"] = self.origin
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return await self.http.post("/graphql", json=body, headers=headers)

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The response body; fails the test on an HTTP error status."""
        response = await self.post(query, variables, token)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The data of a response that must have no top-level errors."""
        result = await self.execute(query, variables, token)
        assert "errors" not in result, result["errors"]
        data: dict[str, Any] = result["data"]
        return data

    def forget_cookies(self) -> None:
        self.http.cookies.clear()
