"""The privacy center in Chromium: a person registered through the API signs in, corrects the
profile, is refused an emptied mandatory field, changes a choice and finds it in the consent
history, downloads the export and deletes the account."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.dependencies import Dependencies
from domain.documents.model import document_hash
from domain.policies.use_cases import publish_policy_version
from tests.api.documents import LOGIN, REGISTER, REQUEST_RESET
from tests.api.helpers import mailed_token, outbox
from tests.conftest import FakeClock
from tests.e2e.conftest import PAGE_DOCUMENTS
from tests.factories import registration

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
NEW_PASSWORD = "a fresh harbour lantern 1927"
PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 900}
EXPECTED_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def trusted(document: str) -> dict[str, Any]:
    """The body of a request that sends a document with its hash (Apollo's retry form)."""
    extension = {"persistedQuery": {"version": 1, "sha256Hash": document_hash(document)}}
    return {"query": document, "extensions": extension}


async def register_through_api(base: str, email: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        answer = await http.post(
            "/graphql",
            json={**trusted(REGISTER), "variables": {"input": registration(email=email)}},
        )
    payload = answer.json()["data"]["register"]
    assert payload["errors"] == []
    return dict(payload["customer"])


async def publish_policies(deps: Dependencies) -> None:
    """A version in force (announced long ago) and one announced now, to come."""
    long_ago = FakeClock()
    long_ago.advance(days=-200)
    past = dataclasses.replace(deps, clock=long_ago)
    summary = "What we collect and why, in plain words."
    url = "https://example.com/privacy"
    in_force = long_ago.now() + timedelta(days=100)
    await publish_policy_version(past, None, "2026-05", summary, url, in_force)
    coming = datetime.now(UTC) + timedelta(days=90)
    await publish_policy_version(deps, None, "2027-03", "Partners listed by name.", url, coming)


async def request_reset(base: str, email: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        answer = await http.post(
            "/graphql", json={**trusted(REQUEST_RESET), "variables": {"input": {"email": email}}}
        )
    assert answer.json()["data"]["requestPasswordReset"]["accepted"] is True


async def mailed_eventually(engine: AsyncEngine, kind: str, to: str) -> str:
    """The code of a mail the service sends after it has answered (within seconds)."""
    for _ in range(50):
        if any(m["recipient"] == to for m in await outbox(engine, kind)):
            break
        await asyncio.sleep(0.1)
    return await mailed_token(engine, kind, to)


PAGE_DOCUMENTS_JS = """async () => {
  const api = await import("/privacy-center/js/api.js");
  return Object.values(api).filter((v) => typeof v === "string" && /^(query|mutation) /.test(v));
}"""


async def page_documents_are_the_committed_manifest(page: Any) -> None:
    """The documents the page sends are those an operator loads; a change rewrites the file,
    to be reviewed and committed with the page."""
    documents = await page.evaluate(PAGE_DOCUMENTS_JS)
    manifest = {document_hash(text): text for text in sorted(documents)}
    if read_json(PAGE_DOCUMENTS) != manifest:
        PAGE_DOCUMENTS.write_text(json.dumps(manifest, indent=2) + "\n")
        pytest.fail(f"the page's documents changed: {PAGE_DOCUMENTS} rewritten; commit it")


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
    served_url: str, browser: Any, engine: AsyncEngine, backend: str, deps: Dependencies
) -> None:
    from playwright.async_api import expect

    keep = backend == "postgresql"
    # given: someone who registered through the API, and the page in a fresh browser
    email = f"browser-{backend}@example.com"
    customer = await register_through_api(served_url, email)
    await publish_policies(deps)
    context = await browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    center = f"{served_url}/privacy-center/"
    response = await page.goto(center)
    assert response is not None
    assert response.headers["content-security-policy"] == EXPECTED_POLICY
    await page_documents_are_the_committed_manifest(page)

    # when: they follow the link in the e-mail that confirms their address
    verification = await mailed_token(engine, "EMAIL_VERIFICATION", email)
    await page.goto(f"{center}#verify-email={verification}")
    await page.get_by_role("button", name="Confirm my address").click()
    # then
    await expect(page.locator("#links")).to_contain_text("your e-mail address is confirmed")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    # when: they forgot their password and follow the reset link
    await request_reset(served_url, email)
    reset = await mailed_eventually(engine, "PASSWORD_RESET", email)
    await page.goto(f"{center}#reset-password={reset}")
    await page.get_by_role("textbox", name="New password").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Set the new password").click()
    await expect(page.locator("#links")).to_contain_text("Your password was changed")
    await page.goto(center)
    await shoot(page, "sign-in", keep)

    # when: they sign in with it
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    # then: the profile as stored
    await expect(page.locator("#who")).to_have_text(f"Signed in as {email}")
    await expect(page.locator("#field-name")).to_have_value(customer["name"])
    await expect(page.locator("#card-on-file")).to_contain_text(
        customer["billing"]["card"]["last4"]
    )
    await expect(page.locator("#profile-summary")).to_contain_text("E-mail confirmedYes")
    # every input has a label, and nothing is wider than a phone
    unlabelled = "[...document.querySelectorAll('input')].filter(i => !i.labels.length)"
    assert await page.evaluate(f"{unlabelled}.map(i => i.outerHTML)") == []
    described = "[...document.querySelectorAll('[aria-describedby]')]"
    missing = ".flatMap(e => e.getAttribute('aria-describedby').split(' '))"
    assert (
        await page.evaluate(f"{described}{missing}.filter(i => !document.getElementById(i))") == []
    )
    await page.set_viewport_size(PHONE)
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.set_viewport_size(DESKTOP)
    await shoot(page, "account", keep)

    # when: they acknowledge the upcoming policy (the one in force is shown too)
    await expect(page.locator("#policy")).to_contain_text("Current policy: version 2026-05")
    await page.get_by_role("button", name="Acknowledge version 2027-03").click()
    await expect(page.locator("#policy")).to_contain_text("You acknowledged this version.")

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

    # when: their browser sends Global Privacy Control and they allow partners' offers
    await context.set_extra_http_headers({"Sec-GPC": "1"})
    await page.get_by_label("Offers from partners").click()
    # then: the page tells them their browser asks the opposite, and grants only if they insist
    override = page.get_by_role("button", name="Allow it anyway")
    await expect(override).to_be_focused()
    await expect(page.locator("#purpose-partner_offers")).not_to_be_checked()
    await override.press("Enter")
    await expect(page.locator("#status")).to_have_text("Offers from partners: allowed.")
    await expect(page.locator("#purpose-partner_offers")).to_be_checked()
    await context.set_extra_http_headers({})

    # when: they download their data
    async with page.expect_download() as downloading:
        await page.get_by_role("button", name="Download a copy of your data").click()
    download = await downloading.value
    document = read_json(await download.path())
    # then: it is theirs, as JSON
    assert customer["id"] in json.dumps(document)
    assert email in json.dumps(document)
    await expect(page.get_by_role("table", name="Requests")).to_contain_text("Access")

    # when: the session ends behind the page's back (idle, or signed out elsewhere)
    cookies = await context.cookies()
    await context.clear_cookies()
    await page.get_by_label("Promotions and events").click()
    # then: the page says so and asks them to sign in again
    await expect(page.get_by_role("alert")).to_have_text(re.compile("session has ended"))
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await context.add_cookies(cookies)
    await page.reload()
    await expect(page.locator("#who")).to_have_text(f"Signed in as {email}")

    # when: they delete the account with the code they were mailed
    await page.get_by_label("Your password").fill(NEW_PASSWORD)
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
            json={
                **trusted(LOGIN),
                "variables": {"input": {"email": email, "password": NEW_PASSWORD}},
            },
        )
    assert login.json()["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
    assert problems == []
    await context.close()


def test_a_missing_browser_is_named_and_fails_where_every_backend_is_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests import backends
    from tests.e2e.conftest import browser_missing

    monkeypatch.setattr(backends, "REQUIRE_ALL", False)
    with pytest.raises(pytest.skip.Exception, match="Chromium is not installed"):
        browser_missing("Chromium is not installed at /nowhere")
    monkeypatch.setattr(backends, "REQUIRE_ALL", True)
    with pytest.raises(pytest.fail.Exception, match="DATARIGHTS_REQUIRE_ALL_BACKENDS"):
        browser_missing("Chromium is not installed at /nowhere")


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
