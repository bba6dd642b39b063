"""The privacy center in Chromium: a person registered through the API signs in, corrects the
profile, is refused an emptied mandatory field, changes a choice and finds it in the consent
history, downloads the export and deletes the account."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.documents import LOGIN, REGISTER
from tests.api.helpers import mailed_token
from tests.factories import PASSWORD, registration

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 900}
EXPECTED_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


async def register_through_api(base: str, email: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        answer = await http.post(
            "/graphql", json={"query": REGISTER, "variables": {"input": registration(email=email)}}
        )
    payload = answer.json()["data"]["register"]
    assert payload["errors"] == []
    return dict(payload["customer"])


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


async def shoot(page: Any, name: str, keep: bool) -> None:
    """The screen at both widths, kept in docs/screenshots (from one backend's run only)."""
    if not keep:
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, size in (("360", PHONE), ("1280", DESKTOP)):
        await page.set_viewport_size(size)
        await page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
    await page.set_viewport_size(DESKTOP)


async def test_a_person_uses_every_right_from_the_privacy_center(
    served_url: str, browser: Any, engine: AsyncEngine, backend: str
) -> None:
    from playwright.async_api import expect

    keep = backend == "postgresql"
    # given: someone who registered through the API, and the page in a fresh browser
    email = f"browser-{backend}@example.com"
    customer = await register_through_api(served_url, email)
    context = await browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    response = await page.goto(f"{served_url}/privacy-center/")
    assert response is not None
    assert response.headers["content-security-policy"] == EXPECTED_POLICY
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await shoot(page, "sign-in", keep)

    # when: they sign in
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    # then: the profile as stored
    await expect(page.locator("#who")).to_have_text(f"Signed in as {email}")
    await expect(page.locator("#field-name")).to_have_value(customer["name"])
    await expect(page.locator("#card-on-file")).to_contain_text(
        customer["billing"]["card"]["last4"]
    )
    await shoot(page, "account", keep)

    # when: they correct a field
    await page.locator("#field-title").fill("Head of Privacy")
    await page.get_by_role("button", name="Save changes").click()
    # then
    await expect(page.locator("#status")).to_have_text("Your profile was saved.")
    await expect(page.locator("#profile-summary")).to_contain_text("Head of Privacy")

    # when: they empty a mandatory field, the page refuses it next to the field, sending nothing
    await page.locator("#field-name").fill("")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.locator("#field-name-error")).to_contain_text("required")
    await expect(page.locator("#field-name")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#field-name")).to_be_focused()
    # and the service's own refusal (a UserError) lands next to its field too
    await page.locator("#field-name").fill(customer["name"])
    await page.locator("#field-phone").fill("not a phone number")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.locator("#field-phone-error")).not_to_be_empty()
    await expect(page.locator("#field-name-error")).to_be_empty()
    await shoot(page, "profile-refused", keep)
    await page.locator("#field-phone").fill(customer["phone"])

    # when: they subscribe to the newsletter (keyboard only)
    await page.locator("#topic-newsletter").focus()
    await page.keyboard.press("Space")
    # then: the choice stands and the consent history shows it
    await expect(page.locator("#status")).to_have_text(re.compile("Newsletter: on"))
    await expect(page.locator("#topic-newsletter")).to_be_checked()
    history = page.get_by_role("table", name="Consent history")
    await expect(history.locator("tbody tr").first).to_contain_text("Newsletter")
    await expect(history.locator("tbody tr").first).to_contain_text("Self service")

    # when: they download their data
    async with page.expect_download() as downloading:
        await page.get_by_role("button", name="Download a copy of your data").click()
    download = await downloading.value
    document = read_json(await download.path())
    # then: it is theirs, as JSON
    assert customer["id"] in json.dumps(document)
    assert email in json.dumps(document)
    await expect(page.get_by_role("table", name="Requests")).to_contain_text("Access")

    # when: they delete the account with the code they were mailed
    await page.get_by_label("Your password").fill(PASSWORD)
    await page.get_by_role("button", name="Delete my account").click()
    await expect(page.get_by_label("Code from the e-mail")).to_be_focused()
    await shoot(page, "delete-confirm", keep)
    code = await mailed_token(engine, "ACCOUNT_DELETION", email)
    await page.get_by_label("Code from the e-mail").fill(code)
    await page.get_by_role("button", name="Erase my account now").click()
    # then
    await expect(page.get_by_role("heading", name="Your account was deleted")).to_be_visible()
    async with httpx.AsyncClient(base_url=served_url, timeout=10) as http:
        login = await http.post(
            "/graphql",
            json={"query": LOGIN, "variables": {"input": {"email": email, "password": PASSWORD}}},
        )
    assert login.json()["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
    assert problems == []
    await context.close()


@pytest.mark.parametrize("path", ["/privacy-center/", "/privacy-center/js/main.js"])
async def test_the_privacy_center_is_served_with_its_own_strict_policy(
    client: Any, path: str
) -> None:
    # when
    answer = await client.http.get(path)
    # then
    assert answer.status_code == 200
    assert answer.headers["content-security-policy"] == EXPECTED_POLICY
    assert "unsafe-inline" not in answer.text


async def test_other_paths_keep_the_strict_policy(client: Any) -> None:
    answer = await client.http.get("/healthz")
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    assert "script-src" not in answer.headers["content-security-policy"]
