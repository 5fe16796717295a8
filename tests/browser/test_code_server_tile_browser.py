"""JupyterLab in headless Chromium shows the VS Code tile; clicking it opens the editor's tab.

As in tests/integration/test_code_server_tile.py, the process behind the tile is a
stand-in for code-server (which cannot be installed on this machine: its npm
install downloads ripgrep from GitHub). The tile, its icon, the click and the
proxied tab are real. Screenshots: test-artifacts/jupyterlab-vscode-tile.png and
test-artifacts/vscode-tab-stand-in.png.
"""
import shutil

import pytest

from fixtures.jupyter import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_launcher_shows_the_vscode_tile_and_opens_it(code_server_jupyter):
    if not CHROMIUM:
        pytest.fail("chromium not installed: run tests/tools/apt-install.sh")
    from playwright.sync_api import sync_playwright

    server = code_server_jupyter
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            page.goto(server.url + "lab?token=" + server.token)
            tile = page.locator(".jp-LauncherCard[title='VS Code'], .jp-LauncherCard:has-text('VS Code')").first
            try:
                tile.wait_for(timeout=90_000)
                assert tile.locator("img, svg").count() >= 1
                page.wait_for_timeout(1000)
            finally:
                page.screenshot(path=str(ARTIFACTS / "jupyterlab-vscode-tile.png"))
            with context.expect_page(timeout=60_000) as opened:
                tile.click()
            editor = opened.value
            editor.get_by_text("VS Code (stand-in)").wait_for(timeout=60_000)
            assert "/vscode/" in editor.url
            editor.screenshot(path=str(ARTIFACTS / "vscode-tab-stand-in.png"))
        finally:
            browser.close()
