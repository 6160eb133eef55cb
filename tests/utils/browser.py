"""Driving Streamlit widgets from Playwright: keyed locators, page navigation, pickers, waiting for a run."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

APP_IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def wait_for_app(page: Page, timeout: float = 20_000) -> None:
    """Wait until Streamlit has finished running the page's script (Streamlit's own e2e tests do the same)."""
    expect(page.locator(APP_IDLE)).to_be_attached(timeout=timeout)


def keyed(page: Page, key: str) -> Locator:
    """A keyed widget (Streamlit puts ``st-key-<key>`` on its element container)."""
    return page.locator(f".st-key-{key}")


def open_page(page: Page, title: str) -> None:
    """Follow the sidebar link to ``title`` (same browser session, so session state survives)."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
    wait_for_app(page)


def choose(page: Page, key: str, value: str) -> None:
    """Type ``value`` into a selectbox or multiselect and click its option."""
    field = keyed(page, key).locator("input")
    field.click()
    field.fill(value)
    page.get_by_role("option", name=value, exact=True).click()


def add_options(page: Page, key: str, *values: str) -> None:
    """Add values to a multiselect, then close its dropdown (Escape on a selectbox would undo the choice)."""
    for value in values:
        choose(page, key, value)
        expect(keyed(page, key).get_by_text(value, exact=True)).to_be_visible()
    page.keyboard.press("Escape")
    wait_for_app(page)


def type_and_commit(page: Page, key: str, text: str) -> None:
    """Fill a text input and press Enter: Streamlit sends the value only on Enter or blur."""
    field = keyed(page, key).locator("input")
    field.fill(text)
    field.press("Enter")
    wait_for_app(page)


def grid_cell(table: Locator, column: int, row: int) -> Locator:
    """A dataframe cell. The grid is drawn on a canvas, but glide-data-grid mirrors the visible cells in an
    accessible table with test ids ``glide-cell-<col>-<row>`` (column 0 is the row markers when rows can be
    selected)."""
    return table.get_by_test_id(f"glide-cell-{column}-{row}")


def click_until_visible(page: Page, button: Locator, shows: Locator, *, attempts: int = 3) -> None:
    """Click ``button`` until ``shows`` is visible, at most ``attempts`` times, as a user clicks again.

    On the Connections page a fragment reruns every 10 s; on a loaded machine a click that lands while that
    rerun is being drawn is now and then not delivered (the browser tests saw it once in four full runs).
    """
    for attempt in range(attempts):
        button.click()
        try:
            expect(shows).to_be_visible(timeout=5_000)
            return
        except AssertionError:
            if attempt == attempts - 1:
                raise
            wait_for_app(page)
            if shows.is_visible():  # it was only slow
                return

