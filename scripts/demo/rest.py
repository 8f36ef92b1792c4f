"""A small client of the gateway's REST API for the demo and its test (JSON in, JSON out, errors by code)."""

from __future__ import annotations

from typing import Any

import requests


class ApiError(RuntimeError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class Api:
    def __init__(self, base_url: str, *, token: str | None = None, api_key: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        if api_key:
            self.session.headers["X-API-Key"] = api_key

    @classmethod
    def login(cls, base_url: str, email: str, password: str) -> Api:
        tokens = cls(base_url).call("POST", "/auth/login", {"email": email, "password": password})
        return cls(base_url, token=tokens["access_token"])

    def call(self, method: str, path: str, body: Any = None, params: dict | None = None) -> Any:
        response = self.session.request(method, f"{self.base_url}/api/v1{path}", json=body, params=params,
                                        timeout=60)
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                code, message = error["code"], error.get("message", "")
            except (ValueError, KeyError, TypeError):
                code, message = f"HTTP_{response.status_code}", response.text[:300]
            raise ApiError(response.status_code, code, message)
        return response.json() if response.content else None

    def pages(self, path: str, key: str, params: dict | None = None, limit: int = 200) -> list[dict]:
        """Every item of a paged list."""
        items, cursor = [], None
        while True:
            page = self.call("GET", path, params={**(params or {}), "limit": limit,
                                                  **({"cursor": cursor} if cursor else {})})
            items += page[key]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    def meter_readings(self, meter_id: str, start: int, end: int) -> list[dict]:
        """Every reading of a meter with start in [start, end), in spans the gateway accepts (≤ 3,000 intervals)."""
        found, span = [], 20 * 86_400
        for lo in range(int(start), int(end), span):
            found += self.pages(f"/meters/{meter_id}/readings", "readings",
                                {"from": lo, "to": min(lo + span, int(end))})
        return found
