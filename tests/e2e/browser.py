"""A headless Chromium driven by Playwright, for tests of the Airflow UI as a user sees it.

The browser is the machine's Chromium (`make setup` installs Debian's `chromium` when
/usr/bin/chromium is missing; `OLIST_CHROMIUM` names another one), never Playwright's own
download, which needs network access. A missing browser or Playwright is a test failure that
says how to install it, never a skip: a skipped browser test under CI looks like a green one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM_ENV = "OLIST_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Headless in a container as root (no sandbox, no GPU). Without the background-networking
# flags Chromium keeps calling Google services, which on a machine without network floods
# the logs with refused connections and slows the start.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
INSTALL_HINT = (
    "`make setup` installs it (Debian: `apt-get install -y chromium`), or set "
    f"{CHROMIUM_ENV} to a Chromium/Chrome executable"
)


def chromium_executable() -> str:
    """The browser to drive; fails the test (with how to install it) when there is none."""
    path = os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"no Chromium at {path}: {INSTALL_HINT}", pytrace=False)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail(
            "the Python package `playwright` is missing: `make setup` installs "
            "requirements/local.txt",
            pytrace=False,
        )
    return path


@contextmanager
def chromium(executable: str | None = None) -> Iterator[Browser]:
    """A started headless Chromium, closed (with Playwright's driver) on exit."""
    from playwright.sync_api import sync_playwright

    executable = executable or chromium_executable()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()


def log_in(page: Page, airflow_url: str, username: str, password: str) -> None:
    """Sign in through Airflow's own login page (the auth manager's), as a user does.

    Opening the UI unauthenticated redirects to the login form; signing in sets the `_token`
    cookie the UI, and the plugin's pages inside it, authenticate with.
    """
    page.goto(airflow_url.rstrip("/") + "/")
    page.locator('input[name="username"]').fill(username)
    page.locator('input[name="password"]').fill(password)
    page.get_by_role("button", name="Sign in").click()
    # Back in the UI, off the auth manager's pages, holding the session cookie.
    page.wait_for_url(lambda url: "/auth/" not in url, timeout=30_000)
    cookies = {cookie["name"] for cookie in page.context.cookies()}
    assert "_token" in cookies, f"no _token cookie after signing in: {cookies}"
