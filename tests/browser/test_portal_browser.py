"""The portal and the console in Chromium, signed in through the real OpenID provider's
own pages: what a parent and a custodian see, in English and Spanish, and that the
pages are accessible (axe-core, WCAG 2.1 AA) and guarded (CSP, cookie flags, CSRF)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, screenshot, sign_in

pytestmark = [pytest.mark.idp, pytest.mark.browser]

SESSION_COOKIE = "records_gateway_session"


def test_the_welcome_page_and_the_notice_of_rights(portal, new_page, axe_source) -> None:
    page = new_page("en-US")
    response = page.goto(portal.url("/"))

    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert page.evaluate("() => document.querySelectorAll('script').length") == 0
    expect(page.get_by_role("heading", level=1)).to_have_text("Student records")
    assert_accessible(page, axe_source)
    screenshot(page, portal, "home-en")

    page.get_by_role("link", name="Your rights", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Annual notice")
    expect(page.locator("main")).to_contain_text("five business days")
    assert_accessible(page, axe_source)


def test_a_spanish_browser_gets_the_notice_in_spanish(portal, new_page, axe_source) -> None:
    page = new_page("es-MX")
    page.goto(portal.url("/notice"))

    assert page.locator("html").get_attribute("lang") == "es"
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Aviso anual de sus derechos sobre los expedientes estudiantiles")
    expect(page.locator("main")).to_contain_text("cinco días hábiles")
    assert_accessible(page, axe_source)
    screenshot(page, portal, "notice-es")


def test_a_parent_sees_their_students_and_where_rights_passed(portal, new_page,
                                                              axe_source) -> None:
    page = new_page("en-US")
    sign_in(page, portal, "parent.johnson")

    expect(page.get_by_role("heading", level=1)).to_have_text("My students")
    minor = page.locator(".card", has=page.get_by_role("heading", name="Student SIS-1001"))
    expect(minor).to_contain_text("You may inspect and review this student's records")
    graduate = page.locator(".card", has=page.get_by_role("heading", name="Student SIS-1003"))
    expect(graduate).to_contain_text("The rights to these records have passed to the student")
    expect(page.locator(".card")).to_have_count(2)  # not SIS-1002: not Dana's student
    assert_accessible(page, axe_source)
    screenshot(page, portal, "students-en")

    cookie = next(c for c in page.context.cookies(portal.base_url)
                  if c["name"] == SESSION_COOKIE)
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # plain http in the test; Secure behind TLS


def test_a_parent_chooses_spanish_and_keeps_it(portal, new_page, axe_source) -> None:
    page = new_page("en-US")
    sign_in(page, portal, "parent.okafor")
    expect(page.locator(".card")).to_contain_text("A parent without legal custody")

    page.get_by_role("button", name="Español").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Mis estudiantes")
    expect(page.locator(".card")).to_contain_text("sin custodia legal")
    page.goto(portal.url("/"))  # the choice outlasts the browser's English
    expect(page.get_by_role("link", name="Ver mis estudiantes")).to_be_visible()
    page.goto(portal.url("/students"))
    assert_accessible(page, axe_source)
    screenshot(page, portal, "students-es")


def test_the_language_is_kept_on_the_account_for_the_next_sign_in(portal, new_page) -> None:
    import datetime

    login, _ = portal.register_parent("Lucía Paz", "SIS-2003", verified=True,
                                      birth_date=datetime.date(2014, 6, 6))
    first = new_page("en-US")
    sign_in(first, portal, login)
    first.get_by_role("button", name="Español").click()
    expect(first.get_by_role("heading", level=1)).to_have_text("Mis estudiantes")

    elsewhere = new_page("en-US")  # another browser, English by its settings
    sign_in(elsewhere, portal, login)

    expect(elsewhere.get_by_role("heading", level=1)).to_have_text("Mis estudiantes")


def test_an_unverified_parent_waits_for_the_custodian(portal, new_page) -> None:
    login, _ = portal.register_parent("Ana Torres", "SIS-2001", verified=False,
                                      birth_date=__import__("datetime").date(2015, 3, 3))
    page = new_page("en-US")
    sign_in(page, portal, login)

    expect(page.locator(".card")).to_contain_text("Awaiting verification")


def test_the_custodian_verifies_a_parent_who_then_sees_the_student(
        portal, new_page, axe_source) -> None:
    import datetime

    login, claim = portal.register_parent("Marisol Vega", "SIS-2002", verified=False,
                                          birth_date=datetime.date(2013, 9, 9))
    console = new_page("en-US")
    sign_in(console, portal, "custodian.garcia", path="/console/")

    expect(console.get_by_role("heading", level=1)).to_have_text("Custodian's console")
    card = console.locator(".card", has=console.get_by_role(
        "heading", name="Marisol Vega, for student SIS-2002"))
    expect(card).to_be_visible()
    assert_accessible(console, axe_source)
    screenshot(console, portal, "console-en")
    card.get_by_label("Yes, has legal custody").check()
    card.get_by_role("button", name="Verify Marisol Vega").click()

    expect(console.get_by_role("status")).to_contain_text(
        "Verified: Marisol Vega, parent of student SIS-2002.")
    expect(console.get_by_role("heading", name="Marisol Vega, for student SIS-2002")
           ).to_have_count(0)
    assert portal.verified(claim)

    parent = new_page("es-ES")
    sign_in(parent, portal, login)
    expect(parent.locator(".card")).to_contain_text(
        "Usted puede consultar y revisar los expedientes de este estudiante")


def test_a_form_without_its_csrf_token_changes_nothing(portal, new_page) -> None:
    _, claim = portal.register_parent("Pat Doe", "SIS-2003", verified=False)
    page = new_page("en-US")
    sign_in(page, portal, "custodian.garcia", path="/console/")

    response = page.request.post(portal.url(f"/console/guardianships/{claim}/verify"),
                                 form={"legal_custody": "yes"})

    assert response.status == 400
    assert "The form could not be accepted" in response.text()
    assert not portal.verified(claim)


def test_a_parent_cannot_open_the_console(portal, new_page) -> None:
    page = new_page("en-US")
    sign_in(page, portal, "parent.johnson", path="/console/")

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "For the custodian of records only")
    assert page.request.get(portal.url("/console/")).status == 403


def test_someone_the_district_has_not_registered_gets_a_clear_page(
        portal, new_page, axe_source) -> None:
    page = new_page("en-US")
    sign_in(page, portal, "stranger.unknown")

    expect(page.get_by_role("heading", level=1)).to_have_text("Your account is not registered")
    assert page.request.get(portal.url("/students")).status == 403
    assert_accessible(page, axe_source)
    screenshot(page, portal, "unregistered-en")


def test_signing_out_ends_the_session_here_and_at_the_provider(portal, new_page) -> None:
    page = new_page("en-US")
    sign_in(page, portal, "parent.johnson")

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Yes, sign me out").click()

    expect(page.get_by_role("status")).to_contain_text("You have signed out.")
    assert page.url.rstrip("/") == portal.base_url
    assert not any(c["name"] == SESSION_COOKIE and "person" in c["value"]
                   for c in page.context.cookies())
    page.goto(portal.url("/students"))
    # Not signed in here, and the provider asks for a login again: its session ended too.
    expect(page.locator("input[name=login]")).to_be_visible()
    assert re.match(re.escape(portal.issuer), page.url)


def test_a_copy_of_the_session_cookie_is_over_once_the_person_signs_out(
        portal, new_page) -> None:
    import datetime

    login, _ = portal.register_parent("Ana Ruiz", "SIS-2004", verified=True,
                                      birth_date=datetime.date(2013, 3, 3))
    page = new_page("en-US")
    sign_in(page, portal, login)
    copied = [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Yes, sign me out").click()
    expect(page.get_by_role("status")).to_contain_text("You have signed out.")
    elsewhere = new_page("en-US")
    elsewhere.context.add_cookies(copied)
    elsewhere.goto(portal.url("/students"))

    expect(elsewhere.locator("input[name=login]")).to_be_visible()  # asked to sign in
    assert re.match(re.escape(portal.issuer), elsewhere.url)


def test_an_adult_student_signs_in_to_their_own_records(portal, new_page, axe_source) -> None:
    page = new_page("en-US")
    sign_in(page, portal, "student.johnson")

    card = page.locator(".card", has=page.get_by_role("heading", name="Student SIS-1003"))
    expect(card).to_contain_text("These are your own records.")
    expect(card.get_by_role("button", name="Send the request for student SIS-1003")
           ).to_be_visible()
    assert_accessible(page, axe_source)
    screenshot(page, portal, "students-adult-en")


def test_a_refusal_is_explained_in_the_parents_language(portal, new_page) -> None:
    # The engine speaks English; the portal gives its reasons in the reader's language.
    page = new_page("es-MX")
    sign_in(page, portal, "parent.johnson", path="/students/SIS-1003/access-log")

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "No se le pueden entregar los expedientes")
    expect(page.locator("main")).to_contain_text(
        "Los derechos pasaron al estudiante adulto.")
