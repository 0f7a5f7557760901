"""A parent challenges a record and restricts directory information; the custodian
decides the challenge: in Chromium, signed in through the real OpenID provider."""

from __future__ import annotations

import datetime

import pytest
from playwright.sync_api import expect

from gateway.policy.facts import RecordType
from tests.browser.conftest import assert_accessible, screenshot, sign_in

pytestmark = [pytest.mark.idp, pytest.mark.browser]


def test_a_parent_challenges_a_record_and_the_custodian_decides(portal, new_page,
                                                                axe_source) -> None:
    sis_id = f"SIS-R{portal.backend[:2].upper()}1"
    login, _ = portal.register_parent("Rosa Mendez", sis_id, verified=True,
                                      birth_date=datetime.date(2013, 4, 4))
    portal.file_record(sis_id, RecordType.DISCIPLINARY_NOTICE, "Late three times.")

    parent = new_page("en-US")
    sign_in(parent, portal, login)
    card = parent.locator(".card", has=parent.get_by_role("heading",
                                                           name=f"Student {sis_id}"))
    card.get_by_role("button", name=f"Refuse the release of directory information of "
                                    f"student {sis_id}").click()
    expect(parent.get_by_role("status")).to_contain_text("will not be released")
    parent.get_by_role("link", name=f"Records on file for student {sis_id}").click()
    expect(parent.get_by_role("heading", level=1)).to_have_text(f"Records of student {sis_id}")
    parent.get_by_text("Challenge this record").click()
    parent.get_by_label("It is inaccurate").check()
    parent.get_by_label("What is wrong, and what it should say").fill("Only once, excused.")
    parent.get_by_role("button", name="File the challenge to disciplinary notice").click()
    expect(parent.get_by_role("status")).to_contain_text("Your challenge was filed")
    expect(parent.locator("main")).to_contain_text("Waiting for the district's decision")
    assert_accessible(parent, axe_source)
    screenshot(parent, portal, "records-challenge-en")

    console = new_page("en-US")
    sign_in(console, portal, "custodian.garcia", path="/console/challenges")
    item = console.locator(".card", has_text=sis_id)
    expect(item).to_contain_text("Only once, excused.")
    assert_accessible(console, axe_source)
    item.get_by_label("Sustain: correct or remove the record").check()
    item.get_by_label("Your reasons").fill("The attendance office confirms one excused absence.")
    item.get_by_role("button", name=f"Decide the challenge for student {sis_id}").click()
    expect(console.get_by_role("status")).to_contain_text(f"Decided: the challenge for "
                                                          f"student {sis_id}.")

    parent.reload()
    expect(parent.locator("main")).to_contain_text("Sustained: the record will be corrected")
