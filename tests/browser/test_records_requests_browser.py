"""A parent asks for copies, the custodian of records fulfils the request, the parent
downloads the PDF and finds the disclosure, with its proof, in the student's access log:
in Chromium, signed in through the real OpenID provider."""

from __future__ import annotations

import datetime
import io
import json

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from audit.verify import verify_proof_bundle
from gateway.policy.facts import RecordType
from tests.browser.conftest import assert_accessible, screenshot, sign_in

pytestmark = [pytest.mark.idp, pytest.mark.browser]


def test_a_parent_asks_for_copies_the_custodian_fulfils_and_the_parent_downloads_them(
        portal, new_page, axe_source) -> None:
    sis_id = f"SIS-C{portal.backend[:2].upper()}1"
    login, _ = portal.register_parent("Zoë Ångström-Núñez", sis_id, verified=True,
                                      birth_date=datetime.date(2014, 3, 3))
    portal.file_record(sis_id, RecordType.COURSES_AND_MARKS, "Grade 6 Mathematics: A-")

    parent = new_page("en-US")
    sign_in(parent, portal, login)
    card = parent.locator(".card", has=parent.get_by_role("heading",
                                                           name=f"Student {sis_id}"))
    card.get_by_label("Copies of the records").check()
    card.get_by_label("Anything the custodian should know").fill("Everything, please.")
    card.get_by_role("button", name=f"Send the request for student {sis_id}").click()
    expect(parent.get_by_role("status")).to_contain_text("Your request was received")
    expect(parent.get_by_role("heading", level=1)).to_have_text("My requests")
    expect(parent.locator("tbody tr")).to_contain_text("Waiting for the custodian")
    assert_accessible(parent, axe_source)

    console = new_page("en-US")
    sign_in(console, portal, "custodian.garcia", path="/console/requests")
    request = console.locator(".card", has=console.get_by_role(
        "heading", name=f"Copies of the records, student {sis_id}"))
    expect(request).to_contain_text("Everything, please.")
    assert_accessible(console, axe_source)
    screenshot(console, portal, "console-requests-en")
    request.get_by_role("button", name=f"Fulfil the request for student {sis_id}").click()
    expect(console.get_by_role("status")).to_contain_text(f"Fulfilled: the request for "
                                                          f"student {sis_id}.")

    parent.reload()
    row = parent.locator("tbody tr", has_text=sis_id)
    expect(row).to_contain_text("Fulfilled")
    screenshot(parent, portal, "my-requests-en")
    with parent.expect_download() as waiting:
        row.get_by_role("link", name=f"for student {sis_id}").click()
    pdf = waiting.value.path().read_bytes()

    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Grade 6 Mathematics: A-" in text and "Zoë Ångström-Núñez" in text

    # The copies are in the student's access log, with a proof to check offline.
    parent.goto(portal.url("/students"))
    parent.get_by_role("link", name=f"Access log of student {sis_id}").click()
    disclosure = parent.locator("tbody tr", has_text="Records given")
    expect(disclosure).to_contain_text("Zoë Ångström-Núñez")
    expect(disclosure).to_contain_text("courses and marks")
    assert_accessible(parent, axe_source)
    screenshot(parent, portal, "access-log-en")
    with parent.expect_download() as waiting:
        disclosure.get_by_role("link", name="Proof of entry").click()
    bundle = json.loads(waiting.value.path().read_text())
    verifier_key = portal.app.extensions["gateway"].audit_keys.verifier_key
    assert verify_proof_bundle(bundle, verifier_key).ok
