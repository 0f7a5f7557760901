"""Browser tests of the portal: Debian's Chromium driven by Playwright, the real
development OpenID provider and the gateway served by werkzeug on free 127.0.0.1
ports, over a throwaway database of each backend seeded with the demo's sample data.

Nothing is downloaded: Chromium comes from Debian (the Makefile installs it) and
axe-core from this directory's package-lock.json (``npm ci``).
"""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page
from werkzeug.serving import make_server

from gateway import create_app
from gateway.demo import seed
from gateway.identity.devidp import DevProvider, start_dev_provider
from gateway.policy.facts import ParentType, RecordType, RequesterCategory
from gateway.settings import load_settings
from gateway.store import migrate
from gateway.store.models import Guardianship, Requester, Student
from tests.integration.store.fixtures import *  # noqa: F403
from tests.integration.store.fixtures import BACKENDS, Databases

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parents[1]
ARTIFACTS = REPOSITORY / "test-artifacts" / "browser"
IDP_TEST_CONFIG = REPOSITORY / "tests" / "integration" / "identity" / "idp-test-config.json"
CHROMIUM = Path("/usr/bin/chromium")
WEB_CLIENT = "records-gateway-web"
TIMEOUT_MS = 15_000
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


# --- Chromium and axe-core ----------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    """pytest-playwright launches Debian's Chromium, never a downloaded browser."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test` (it installs Debian's chromium) "
                    "or apt-get install chromium", pytrace=False)
    return {"executable_path": str(CHROMIUM), "timeout": 30_000,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run"]}


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script, installed from the lockfile on first use."""
    script = HERE / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to install axe-core for the browser tests",
                        pytrace=False)
        lock = Path(tempfile.gettempdir()) / "records-gateway-axe-install.lock"
        with open(lock, "w") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            if not script.exists():
                done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                                      cwd=HERE, capture_output=True, text=True, timeout=300,
                                      check=False,
                                      stdin=subprocess.DEVNULL)
                if done.returncode != 0:
                    pytest.fail(f"npm ci in {HERE} failed: {done.stderr.strip()[-300:]}",
                                pytrace=False)
    return script.read_text()


# --- the gateway and its provider ---------------------------------------------------


@dataclass
class Portal:
    base_url: str
    issuer: str
    backend: str
    app: Any

    def url(self, path: str) -> str:
        return self.base_url + path

    def unit_of_work(self):
        return self.app.extensions["gateway"].unit_of_work()

    def register_parent(self, name: str, sis_id: str, *, verified: bool,
                        legal_custody: bool = True, **facts: Any) -> tuple[str, uuid.UUID]:
        """A new parent (login = the returned subject) claiming a new student."""
        subject = f"parent-{uuid.uuid4().hex[:10]}"
        with self.unit_of_work() as uow:
            custodian = uow.requesters.by_subject(self.issuer, "custodian.garcia")
            parent = uow.requesters.add(Requester(issuer=self.issuer, subject=subject,
                                                  display_name=name,
                                                  category=RequesterCategory.PARENT))
            student = uow.students.by_sis_id(sis_id) or uow.students.add(
                Student(sis_id=sis_id, **facts))
            claim = uow.guardianships.add(Guardianship(
                parent_id=parent.id, student_id=student.id, parent_type=ParentType.NATURAL,
                legal_custody=legal_custody, **({"verified_by_id": custodian.id,
                    "verified_at": parent.created_at} if verified else {})))
            uow.commit()
        return subject, claim.id

    def file_record(self, sis_id: str, record_type: RecordType, text: str) -> None:
        with self.unit_of_work() as uow:
            student = uow.students.by_sis_id(sis_id)
            uow.records.add(student_id=student.id, record_type=record_type,
                            content=text.encode(), media_type="text/plain",
                            school_year_of_origin=2025, originator="Registrar")
            uow.commit()

    def verified(self, guardianship_id: uuid.UUID) -> bool:
        with self.unit_of_work() as uow:
            return uow.guardianships.get(guardianship_id).verified


class _Late:
    """The WSGI app of a server that had to be listening before the app could exist
    (the provider must know the redirect URI, which names the server's port)."""

    def __init__(self) -> None:
        self.app: Callable[..., Any] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None, "the gateway is not ready"
        return self.app(environ, start_response)


def _provider_config(base_url: str, directory: Path) -> Path:
    """The identity tests' provider config, with the web client redirected to this
    server (exact redirect URIs: the port is only known now)."""
    config = json.loads(IDP_TEST_CONFIG.read_text())
    for client in config["clients"]:
        if client["client_id"] == WEB_CLIENT:
            client["redirect_uris"] = [f"{base_url}/auth/callback"]
            client["post_logout_redirect_uris"] = [f"{base_url}/auth/logged-out"]
    path = directory / "idp-browser-config.json"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="session", params=BACKENDS)
def portal(request: pytest.FixtureRequest, databases: Databases,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """The gateway with the demo's sample data, its provider, on 127.0.0.1; stopped after."""
    url = databases.create(request, request.param)
    migrate.upgrade(url)
    directory = tmp_path_factory.mktemp(f"portal-{request.param}")
    late = _Late()
    server = make_server("127.0.0.1", 0, late, threaded=True)
    base_url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, name="portal-server", daemon=True)
    provider: DevProvider | None = None
    app = None
    try:
        provider = start_dev_provider(_provider_config(base_url, directory), "127.0.0.1", 0,
                                      timeout=60)
        settings = load_settings(environ={}, overrides={
            "database_url": url, "oidc_issuer": provider.issuer, "environment": "test",
            "oidc_client_id": WEB_CLIENT, "oidc_client_secret": f"secret-{WEB_CLIENT}",
            "data_dir": directory, "log_format": "console"})
        app = create_app(settings=settings)
        with app.extensions["gateway"].unit_of_work() as uow:
            seed(uow, provider.issuer)
        late.app = app
        thread.start()
        yield Portal(base_url, provider.issuer, request.param, app)
    finally:
        if thread.is_alive():
            server.shutdown()
            thread.join(10)
        server.server_close()
        if app is not None:
            services = app.extensions["gateway"]
            services.database.dispose()
            if services.tokens is not None:
                services.tokens.close()
        if provider is not None:
            provider.stop()


# --- pages, people, checks ----------------------------------------------------------


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """new_page(locale="en-US") -> a page in a fresh browser context (no cookies)."""
    contexts: list[BrowserContext] = []

    def make(locale: str = "en-US") -> Page:
        context = browser.new_context(locale=locale)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def sign_in(page: Page, portal: Portal, login: str, path: str = "/students") -> None:
    """Through the provider's own login and consent pages, as a person would."""
    page.goto(portal.url(f"/auth/login?next={path}"))
    for _ in range(4):  # login page, consent page; bounded
        if page.url.startswith(portal.base_url):
            return
        if page.locator("input[name=login]").count():
            page.fill("input[name=login]", login)
            page.fill("input[name=password]", "any password at all")
            page.locator("button[type=submit]").first.click()
        elif page.get_by_role("button", name="Continue").count():
            page.get_by_role("button", name="Continue").click()
        page.wait_for_load_state()
    assert page.url.startswith(portal.base_url), f"sign-in ended at {page.url}"


def assert_accessible(page: Page, axe_source: str) -> None:
    """axe-core finds no WCAG 2.1 A/AA violation on the page. It is evaluated through the
    DevTools protocol, which the page's CSP does not govern (no inline script needed)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source + "\n;0")
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})",
                           WCAG_AA)
    problems = [f"{v['id']} ({v['impact']}): {v['help']} at "
                + ", ".join(str(n["target"]) for n in v["nodes"][:3])
                for v in result["violations"]]
    assert not problems, f"{page.url}:\n" + "\n".join(problems)


def screenshot(page: Page, portal: Portal, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^a-z0-9-]', '-', name)}-{portal.backend}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
