"""The custodian's console in Chromium: duties marked done, holds, the access log, and
court orders and subpoenas entered."""

from __future__ import annotations

import datetime

import pytest
from playwright.sync_api import expect

from gateway.policy.decision import Obligation
from gateway.store.models import ObligationTask, Student
from tests.browser.conftest import assert_accessible, screenshot, sign_in

pytestmark = [pytest.mark.idp, pytest.mark.browser]


def test_the_custodian_marks_a_24_hour_notice_done(portal, new_page, axe_source) -> None:
    sis_id = f"SIS-D{portal.backend[:2].upper()}1"
    with portal.unit_of_work() as uow:
        student = uow.students.add(Student(sis_id=sis_id, birth_date=datetime.date(2012, 1, 1)))
        uow.obligations.add(ObligationTask(
            student_id=student.id, obligation=Obligation.NOTIFY_PARENT_WITHIN_24_HOURS.value,
            due_by=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=20),
            created_from_request_id="browser-test"))
        uow.commit()

    page = new_page("en-US")
    sign_in(page, portal, "custodian.garcia", path="/console/duties")
    card = page.locator(".card", has_text=sis_id)
    expect(card).to_contain_text("within 24 hours")
    assert_accessible(page, axe_source)
    screenshot(page, portal, "console-duties-en")

    card.get_by_role("button", name=f"Mark done: student {sis_id}").click()

    expect(page.get_by_role("status")).to_contain_text("Marked done.")
    expect(page.locator(".card", has_text=sis_id)).to_have_count(0)


def test_the_custodian_places_and_releases_a_legal_hold(portal, new_page, axe_source) -> None:
    sis_id = f"SIS-H{portal.backend[:2].upper()}1"
    with portal.unit_of_work() as uow:
        uow.students.add(Student(sis_id=sis_id, birth_date=datetime.date(2011, 1, 1)))
        uow.commit()

    page = new_page("en-US")
    sign_in(page, portal, "custodian.garcia", path="/console/retention")
    expect(page.get_by_role("heading", level=1)).to_have_text("Retention and destruction")
    page.get_by_label("Legal hold").check()
    page.get_by_label("Student (SIS id)").fill(sis_id)
    page.get_by_label("Who answers for it").fill("District counsel")
    page.get_by_label("Reason", exact=True).fill("Litigation about the 2025 field trip")
    page.get_by_role("button", name="Place the hold").click()

    expect(page.get_by_role("status")).to_contain_text(f"The records of student {sis_id} "
                                                       "are held.")
    card = page.locator(".card", has_text=sis_id)
    expect(card).to_contain_text("District counsel")
    assert_accessible(page, axe_source)
    screenshot(page, portal, "console-retention-en")
    card.get_by_label("Why it is released").fill("The case settled")
    card.get_by_role("button", name=f"Release the hold on student {sis_id}").click()
    expect(page.get_by_role("status")).to_contain_text("The hold is released.")
    expect(page.locator(".card", has_text=sis_id)).to_have_count(0)


def test_the_custodian_reviews_searches_and_exports_the_access_log(portal, new_page,
                                                                  axe_source) -> None:
    page = new_page("en-US")
    sign_in(page, portal, "custodian.garcia", path="/console/log/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Access log")
    expect(page.locator("#integrity-heading")).to_be_visible()
    # The custodian's own reading is the newest entry.
    page.get_by_label("Event").select_option("access_log_view")
    page.get_by_role("button", name="Search the log").click()
    expect(page.locator("tbody tr").first).to_contain_text("Elena Garcia")
    assert_accessible(page, axe_source)
    screenshot(page, portal, "console-log-en")

    with page.expect_download() as waiting:
        page.get_by_role("link", name="Export these entries as CSV").click()
    csv_text = waiting.value.path().read_text()
    assert csv_text.startswith("seq,time,event") and "access_log_view" in csv_text

    page.goto(portal.url("/console/log/?since=yesterday"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "The search could not be understood")


def test_the_custodian_enters_a_subpoena_and_records_the_notice(portal, new_page,
                                                                axe_source) -> None:
    sis_id = f"SIS-O{portal.backend[:2].upper()}1"
    with portal.unit_of_work() as uow:
        uow.students.add(Student(sis_id=sis_id, birth_date=datetime.date(2012, 1, 1)))
        uow.commit()
    served = datetime.date.today() - datetime.timedelta(days=5)

    page = new_page("en-US")
    sign_in(page, portal, "custodian.garcia", path="/console/judicial-orders")
    expect(page.get_by_role("heading", level=1)).to_have_text("Court orders and subpoenas")
    page.get_by_label("Student (SIS id)").fill(sis_id)
    page.get_by_label("The party it names").select_option(label="EdPolicy Research Lab")
    page.get_by_label("Court and case number").fill("Shasta Superior Court 26-CV-0142")
    page.get_by_label("Served on").fill(served.isoformat())
    page.get_by_label("Which records it names").select_option("courses_and_marks")
    page.get_by_role("button", name="Enter the order").click()

    expect(page.get_by_role("status")).to_contain_text(
        f"Entered: the order for the records of student {sis_id}, naming EdPolicy "
        "Research Lab.")
    card = page.locator(".card", has_text=sis_id)
    expect(card).to_contain_text("Not yet notified")
    assert_accessible(page, axe_source)
    screenshot(page, portal, "console-orders-en")
    card.get_by_label("Day the parent or adult student was notified").fill(
        (served + datetime.timedelta(days=1)).isoformat())
    card.get_by_role("button", name=f"Record the notice for student {sis_id}").click()
    expect(page.get_by_role("status")).to_contain_text("Recorded: the parent was notified.")
    expect(page.locator(".card", has_text=sis_id)).to_contain_text("Notified on")
    page.locator(".card", has_text=sis_id).get_by_label("Day it was quashed or withdrawn").fill(
        (served + datetime.timedelta(days=2)).isoformat())
    page.get_by_role("button", name=f"Record the order for student {sis_id} quashed or "
                     "withdrawn").click()
    expect(page.get_by_role("status")).to_contain_text("Recorded: the order is quashed")
    expect(page.locator(".card", has_text=sis_id)).to_have_count(0)


def test_the_custodian_registers_a_researcher_and_keeps_its_agreement(portal, new_page,
                                                                      axe_source) -> None:
    subject = f"research-{portal.backend}-lab"
    today = datetime.date.today()

    page = new_page("en-US")
    sign_in(page, portal, "custodian.garcia", path="/console/requesters")
    expect(page.get_by_role("heading", level=1)).to_have_text("Requesters")
    page.get_by_label("Account (subject or client id").fill(subject)
    page.get_by_label("Name, as the access log shows it").fill("Valley Reading Study")
    page.get_by_label("Category").select_option("research_organization")
    page.get_by_label("Kind of organization").select_option("nonprofit")
    page.get_by_role("button", name="Register", exact=True).click()

    expect(page.get_by_role("status")).to_contain_text("Registered: Valley Reading Study.")
    card = page.locator(".card", has_text=subject)
    expect(card).to_contain_text("Research organization")
    card.get_by_text("Keep an agreement or certification of Valley Reading Study").click()
    card.get_by_label("What it is for").fill("Study of early reading programs")
    card.get_by_label("The district's reference for the paper").fill("RA-2026-11")
    card.get_by_label("Signed on").fill((today - datetime.timedelta(days=7)).isoformat())
    card.get_by_label("In force from").fill((today - datetime.timedelta(days=7)).isoformat())
    card.get_by_role("button", name="Keep the paper of Valley Reading Study").click()
    expect(page.get_by_role("status")).to_contain_text("Kept: the paper RA-2026-11")
    expect(page.locator(".card", has_text=subject)).to_contain_text("RA-2026-11")
    assert_accessible(page, axe_source)
    screenshot(page, portal, "console-requesters-en")

    page.get_by_role("button", name="Stop the reads of Valley Reading Study").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Valley Reading Study reads nothing from now on.")
    with portal.unit_of_work() as uow:
        assert not uow.requesters.by_subject(portal.issuer, subject).active


def test_the_custodian_records_an_emergency_for_a_hospital(portal, new_page,
                                                           axe_source) -> None:
    sis_id = f"SIS-E{portal.backend[:2].upper()}1"
    with portal.unit_of_work() as uow:
        uow.students.add(Student(sis_id=sis_id, birth_date=datetime.date(2012, 1, 1)))
        uow.commit()

    page = new_page("en-US")
    sign_in(page, portal, "custodian.garcia", path="/console/emergencies")
    expect(page.get_by_role("heading", level=1)).to_have_text("Emergencies")
    page.get_by_label("Student (SIS id)").fill(sis_id)
    page.get_by_label("The party whose knowledge").select_option(label="EdPolicy Research Lab")
    page.get_by_label("The threat to the health").fill("Collapsed at practice; the ER "
                                                      "needs the allergy history")
    page.get_by_role("button", name="Record the emergency").click()

    expect(page.get_by_role("status")).to_contain_text(
        f"Recorded: EdPolicy Research Lab may read the records of student {sis_id}")
    expect(page.locator(".card", has_text=sis_id)).to_contain_text("allergy history")
    assert_accessible(page, axe_source)
    screenshot(page, portal, "console-emergencies-en")
