"""Headless Chromium (Debian's package) in front of the real Jupyter server.

1. JupyterLab's launcher shows the MLflow and TensorBoard tiles (with icons);
2. the MLflow UI inside the proxy shows the example run of the train notebook.

Screenshots are kept in test-artifacts/ (git-ignored) for a person to look at.
Playwright drives /usr/bin/chromium; no browser is downloaded.
"""
import json
import shutil

import pytest

from fixtures.jupyter import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    if not CHROMIUM:
        pytest.fail("chromium not installed: run tests/tools/apt-install.sh")
    from playwright.sync_api import sync_playwright
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 900})
        try:
            page = context.pages[0] if context.pages else context.new_page()
            yield page
        finally:
            context.close()


def test_launcher_shows_mlflow_and_tensorboard_tiles(browser_page, jupyter_server):
    page = browser_page
    page.goto(jupyter_server.url + "lab?token=" + jupyter_server.token)
    launcher = page.locator(".jp-Launcher")
    launcher.wait_for(timeout=90_000)
    mlflow_tile = page.locator(".jp-LauncherCard[title='MLflow'], .jp-LauncherCard:has-text('MLflow')").first
    tensorboard_tile = page.locator(
        ".jp-LauncherCard[title='TensorBoard'], .jp-LauncherCard:has-text('TensorBoard')").first
    mlflow_tile.wait_for(timeout=30_000)
    tensorboard_tile.wait_for(timeout=30_000)
    # the icons are our SVGs, rendered (not the generic placeholder)
    assert mlflow_tile.locator("img, svg").count() >= 1
    page.wait_for_timeout(1000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "jupyterlab-launcher.png"))


def test_mlflow_ui_in_proxy_shows_the_example_run(browser_page, jupyter_server, example_run):
    page = browser_page
    status, _, body = jupyter_server.get(
        "mlflow/api/2.0/mlflow/experiments/get-by-name?experiment_name=workbench-examples")
    assert status == 200, body
    experiment_id = json.loads(body)["experiment"]["experiment_id"]
    status, _, body = jupyter_server.get(
        "mlflow/api/2.0/mlflow/runs/search", method="POST",
        data=json.dumps({"experiment_ids": [experiment_id]}).encode(),
        headers={"Content-Type": "application/json"})
    run_id = json.loads(body)["runs"][0]["info"]["run_id"]
    # The run's own page (MLflow 3 opens experiments on its GenAI overview).
    page.goto("%smlflow/?token=%s#/experiments/%s/runs/%s" % (
        jupyter_server.url, jupyter_server.token, experiment_id, run_id))
    try:
        page.get_by_text("sgd-example").first.wait_for(timeout=90_000)
        page.get_by_text("test_accuracy").first.wait_for(timeout=30_000)
        page.keyboard.press("Escape")  # close first-visit tips
        page.wait_for_timeout(1500)
    finally:
        page.screenshot(path=str(ARTIFACTS / "mlflow-ui-example-run.png"))


def test_clicking_the_mlflow_tile_opens_the_labs_own_mlflow_server(browser_page, jupyter_server):
    """A real click on the tile: a new tab with the MLflow UI of the server the lab started in
    the background (the click starts no server of its own)."""
    import subprocess
    import time

    page = browser_page
    page.goto(jupyter_server.url + "lab?token=" + jupyter_server.token)
    tile = page.locator(".jp-LauncherCard[title='MLflow'], .jp-LauncherCard:has-text('MLflow')").first
    tile.wait_for(timeout=90_000)
    started = time.monotonic()
    with page.context.expect_page(timeout=60_000) as opened:
        tile.click()
    tab = opened.value
    try:
        tab.wait_for_load_state("domcontentloaded", timeout=120_000)
        assert "/mlflow/" in tab.url
        tab.get_by_text("Experiments").first.wait_for(timeout=120_000)
        print("click on the MLflow tile -> MLflow UI in %.1f s" % (time.monotonic() - started))
        tab.wait_for_timeout(1000)
        tab.screenshot(path=str(ARTIFACTS / "mlflow-tile-click.png"))
    finally:
        tab.close()
    port = jupyter_server.env["WORKBENCH_MLFLOW_PORT"]
    out = subprocess.run(["ps", "-ww", "-eo", "args="], capture_output=True, text=True, check=True).stdout
    servers = [line for line in out.splitlines()
               if "mlflow.server.fastapi_app:app" in line and "--port %s " % port in line]
    assert len(servers) == 1, servers
