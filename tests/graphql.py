"""A small GraphQL-over-HTTP client for the tests: POST a document, read the JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class GraphQLClient:
    http: httpx.AsyncClient

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
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
