"""Screenshots of a running dashboard, in headless Chromium (what `make demo` records).

    python -m supervisor_api.web.screenshot --url http://127.0.0.1:8080/ --out out/

Logs in, then saves the staffed-agents view, the jobs view and the Agent Summary report
as PNG files. Needs Chromium (`make browser`) and the `playwright` package (dev extra).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

CHROMIUM = os.environ.get("PAM_CHROMIUM", "/usr/bin/chromium")
# Flags for a closed network and a root user (no sandbox, no background connections).
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


async def shoot(url: str, out: Path, user: str, password: str,
                prefix: str = "dashboard") -> list[Path]:
    from playwright.async_api import async_playwright, expect

    saved: list[Path] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1680, "height": 1000})
            await page.goto(url)
            await page.fill("input[name=username]", user)
            await page.fill("input[name=password]", password)
            await page.click("#login-form button[type=submit]")
            await expect(page.locator("#conn")).to_have_text("live", timeout=20_000)
            await expect(page.locator("#agents tbody tr").first).to_be_visible(timeout=20_000)
            for tab, name in (("agents", "agents"), ("jobs", "jobs")):
                await page.click(f'.tabs button[data-tab="{tab}"]')
                p = out / f"{prefix}-{name}.png"
                await page.screenshot(path=str(p))
                saved.append(p)
            await page.click('.tabs button[data-tab="reports"]')
            await page.select_option("#report-form select[name=kind]", "summary")
            await page.click("#report-form button[type=submit]")
            await expect(page.locator("#report tbody tr").first).to_be_visible(timeout=20_000)
            p = out / f"{prefix}-agent-summary.png"
            await page.screenshot(path=str(p))
            saved.append(p)
        finally:
            await browser.close()
    return saved


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080/")
    ap.add_argument("--out", default="out")
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password", default="admin")
    ap.add_argument("--prefix", default="dashboard")
    args = ap.parse_args(argv)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    for p in asyncio.run(shoot(args.url, Path(args.out), args.user, args.password,
                               args.prefix)):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
