"""Consents in Chromium: a parent with legal custody signs one and revokes it; a parent
without custody cannot consent."""

from __future__ import annotations

import datetime

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_accessible, screenshot, sign_in

pytestmark = [pytest.mark.idp, pytest.mark.browser]


def fill_consent(page: Page, sis_id: str, name: str) -> None:
    page.get_by_label("Student", exact=True).select_option(sis_id)
    page.get_by_label("Release to").select_option(label="EdPolicy Research Lab")
    page.get_by_label("For what purpose").fill("A study of reading programmes")
    page.get_by_label("Which records").select_option(["standardized_test"])
    page.get_by_label("Your name, as your signature").fill(name)
    page.get_by_label("I sign this consent").check()
    page.get_by_role("button", name="Sign and give the consent").click()


def test_a_custodial_parent_gives_and_revokes_a_consent(portal, new_page,
                                                        axe_source) -> None:
    sis_id = f"SIS-K{portal.backend[:2].upper()}1"
    login, _ = portal.register_parent("Ana Lima", sis_id, verified=True,
                                      birth_date=datetime.date(2015, 2, 2))
    page = new_page("en-US")
    sign_in(page, portal, login, path="/consents")
    assert_accessible(page, axe_source)

    fill_consent(page, sis_id, "Ana Lima")

    expect(page.get_by_role("status")).to_contain_text(
        "Your consent for EdPolicy Research Lab is signed and dated")
    card = page.locator(".card", has_text=sis_id)
    expect(card).to_contain_text("In force")
    expect(card).to_contain_text("standardized test")
    screenshot(page, portal, "consents-en")
    card.get_by_role("button", name="Revoke the consent for EdPolicy Research Lab").click()
    expect(page.locator(".card", has_text=sis_id)).to_contain_text("Revoked on")


def test_a_parent_without_legal_custody_cannot_consent(portal, new_page) -> None:
    sis_id = f"SIS-K{portal.backend[:2].upper()}2"
    login, _ = portal.register_parent("Ben Lima", sis_id, verified=True, legal_custody=False,
                                      birth_date=datetime.date(2015, 2, 2))
    page = new_page("en-US")
    sign_in(page, portal, login, path="/consents")

    fill_consent(page, sis_id, "Ben Lima")

    expect(page.get_by_role("heading", level=1)).to_have_text("This consent cannot be given")
    expect(page.locator("main")).to_contain_text("only a parent with legal custody may consent")
    page.goto(portal.url("/consents"))
    expect(page.locator("main")).to_contain_text("You have not given any consent here.")
