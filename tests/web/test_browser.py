"""The dashboard in headless Chromium (Debian's, driven by Playwright; `make test` installs it).

A supervisor logs in, watches an agent's row change as PAM applies commands, releases the
agent from outbound and sees the outcome, and sees an alarm arrive; a viewer sees no action
buttons and the API refuses the action even when asked directly.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from pam_protocol import messages as m
from supervisor_api.web.screenshot import ARGS, CHROMIUM
from tests.service.test_dispatch import PROGRESSIVE, staff
from tests.web.conftest import PASSWORD, Dashboard, one_sale

expect.set_options(timeout=15_000)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make browser` (installs Debian's "
                    f"chromium) or set PAM_CHROMIUM to a Chromium binary")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


async def log_in(browser: Browser, dashboard: Dashboard, user: str) -> Page:
    page = await browser.new_page(viewport={"width": 1600, "height": 900})
    await page.goto(dashboard.url)
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#whoami")).to_contain_text(user)
    await expect(page.locator("#conn")).to_have_text("live")
    return page


async def test_supervisor_watches_a_row_change_releases_and_sees_an_alarm(
        browser: Browser, dashboard: Dashboard, tmp_path: Path) -> None:
    pam = dashboard.pam
    await pam.ok(PROGRESSIVE)
    await staff(pam, pam.client, ["A", "B"])
    page = await log_in(browser, dashboard, "sup")
    row_a = page.locator('#agents tr[data-agent="A"]')
    await expect(row_a).to_contain_text("Ready")
    await expect(row_a).to_have_class("st-ready")

    # PAM applies a command: the row follows, live
    r = await pam.ok(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
    talking = page.locator(f'#agents tr[data-agent="{r.agent_id}"]')
    await expect(talking).to_contain_text("Talking")
    await expect(talking).to_have_class("st-talking")
    await expect(page.locator('.tile[data-tile="Talking"] b')).to_have_text("1")
    idle = "B" if r.agent_id == "A" else "A"

    # release the idle agent: the outcome at once, and its row in JobInbound
    await page.locator(f'#agents tr[data-agent="{idle}"] button.release').click()
    await page.fill("#dlg-release input[name=thrash]", "120")
    await page.click('#dlg-release button[value="ok"]')
    await expect(page.locator("#outcome")).to_contain_text("Done.")
    await expect(page.locator(f'#agents tr[data-agent="{idle}"]')).to_contain_text("JobInbound")
    assert (await pam.states(idle))[2] == "JobInbound"

    # a release PAM ignores: the reason shows, and the alarm arrives in the alarms tab
    await pam.ok(m.CallbackDue(job_id="J", callback_id="cb1", agent_id=r.agent_id))
    await talking.locator("button.release").click()
    await page.click('#dlg-release button[value="ok"]')
    await expect(page.locator("#outcome")).to_contain_text("Not done.")
    await expect(page.locator("#outcome")).to_contain_text("pending callback")
    await page.click('.tabs button[data-tab="alarms"]')
    await expect(page.locator('#alarms tr[data-alarm="P_POMAGT50"]')).to_contain_text(
        r.agent_id or "")
    await page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)


async def test_viewer_sees_no_actions_and_the_api_refuses_them(
        browser: Browser, dashboard: Dashboard) -> None:
    pam = dashboard.pam
    await pam.ok(PROGRESSIVE)
    await staff(pam, pam.client, ["A"])
    before = await pam.status("A")
    page = await log_in(browser, dashboard, "view")
    row = page.locator('#agents tr[data-agent="A"]')
    await expect(row).to_contain_text("JobAttached")
    await expect(page.locator("button.release")).to_have_count(0)
    await expect(page.locator("button.move")).to_have_count(0)
    status = await page.evaluate("""async () => {
        const csrf = document.cookie.match(/pam_csrf=([^;]+)/)[1];
        const r = await fetch('/api/agents/A/release', {method: 'POST',
            headers: {'content-type': 'application/json', 'x-pam-csrf': csrf},
            body: JSON.stringify({thrash_seconds: 0})});
        return r.status;
    }""")
    assert status == 403
    assert (await pam.status("A")).version == before.version


async def test_zone_unavailable_banner_when_pam_goes_down_and_back(
        browser: Browser, dashboard: Dashboard) -> None:
    pam = dashboard.pam
    await pam.ok(PROGRESSIVE)
    await staff(pam, pam.client, ["A"])
    page = await log_in(browser, dashboard, "sup")
    await expect(page.locator('#zones [data-zone="z1"]')).to_contain_text("available")
    await pam.services.pop().stop()  # a graceful stop announces POMNotAvailable
    await expect(page.locator("#banner")).to_contain_text("Zone z1 is unavailable")
    await pam.start()  # the new active instance announces POMAvailable
    await expect(page.locator("#banner")).to_be_hidden()
    await expect(page.locator('#agents tr[data-agent="A"]')).to_contain_text("Ready")


async def test_reports_tab_shows_agent_activity_and_offers_csv(
        browser: Browser, dashboard: Dashboard) -> None:
    pam = dashboard.pam
    await one_sale(pam)
    page = await log_in(browser, dashboard, "sup")
    await page.click('.tabs button[data-tab="reports"]')
    await page.select_option("#report-form select[name=kind]", "activity")
    await page.fill("#report-form input[name=agent]", "A")
    # the ingester may still be storing the last events: show until the wrap-up is there
    wrapup = page.locator("#report tbody tr", has_text="Wrap-up")
    for _ in range(50):
        await page.click("#report-form button[type=submit]")
        try:
            await expect(wrapup).to_contain_text("Sale", timeout=500)
            break
        except AssertionError:
            continue
    await expect(wrapup).to_contain_text("Sale")
    await expect(page.locator("#report tbody tr").first).to_contain_text("Login")
    await expect(page.locator("#report tbody")).to_contain_text("Call Connect")
    async with page.expect_download() as dl:
        await page.click("#report-csv")
    download = await dl.value
    assert download.suggested_filename == "agent-activity-A.csv"
