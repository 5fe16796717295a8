"""The model-serving page (Streamlit) in headless Chromium, in front of the real API.

The API (files/model-serving/serving_app.py) runs under uvicorn and serves the
iris model registered in a real MLflow server (tests/fixtures/mlflow_registry.py);
the page runs under ``streamlit run`` pointed at it. In Chromium the page must
show the model's version and one input per column; after filling in a flower
and pressing Predict it must show the model's own prediction for it.
The screenshot is kept in test-artifacts/model-serving-page.png.
"""
import json
import os
import pathlib
import secrets
import shutil
import sys
import urllib.error
import urllib.request

import pytest

from fixtures.jupyter import ARTIFACTS, free_port, start_serving, stop_process_group

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def serving_stack(mlflow_registry):
    ARTIFACTS.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_", "WORKBENCH_"))}
    # The API and the page share the generated token, as both pods read it from the role's Secret.
    env.update({"MLFLOW_TRACKING_URI": mlflow_registry.uri, "WORKBENCH_MODEL_NAME": mlflow_registry.model_name,
                "WORKBENCH_MODEL_ALIAS": mlflow_registry.alias, "WORKBENCH_SERVING_TOKEN": secrets.token_urlsafe(32)})
    api_port, page_port = free_port(), free_port()
    api = start_serving([sys.executable, "-m", "uvicorn", "serving_app:app", "--host", "127.0.0.1",
                 "--port", str(api_port)], env, "model-serving-api.log",
                "http://127.0.0.1:%d/health" % api_port)
    try:
        page_env = dict(env, WORKBENCH_SERVING_URL="http://127.0.0.1:%d" % api_port)
        page = start_serving([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(page_port),
                      "--server.address", "127.0.0.1", "--server.headless", "true",
                      "--browser.gatherUsageStats", "false"], page_env, "model-serving-page.log",
                     "http://127.0.0.1:%d/_stcore/health" % page_port)
        try:
            yield "http://127.0.0.1:%d/" % page_port, "http://127.0.0.1:%d" % api_port
        finally:
            stop_process_group(page)
    finally:
        stop_process_group(api)


def test_page_sends_inputs_and_shows_the_models_prediction(serving_stack, mlflow_registry):
    if not CHROMIUM:
        pytest.fail("chromium not installed: run tests/tools/apt-install.sh")
    from playwright.sync_api import sync_playwright

    page_url, api_url = serving_stack
    flower = mlflow_registry.features.iloc[120]  # an iris virginica
    # The page's prediction below can only come through the token: the API refuses a call without it.
    anonymous = urllib.request.Request(api_url + "/predict", method="POST", headers={"Content-Type": "application/json"},
                                       data=json.dumps({"inputs": {k: float(v) for k, v in flower.items()}}).encode())
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(anonymous, timeout=30)
    assert refused.value.code == 401
    expected = mlflow_registry.model.predict(mlflow_registry.features.iloc[[120]])[0]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1000})
            page.goto(page_url)
            try:
                page.get_by_text("version %s" % mlflow_registry.version).first.wait_for(timeout=60_000)
                for column, value in flower.items():
                    field = page.get_by_label(column)
                    field.fill("%.4f" % value)
                    field.press("Tab")
                page.get_by_role("button", name="Predict").click()
                page.get_by_text("Prediction: %s" % expected).wait_for(timeout=60_000)
            finally:
                page.screenshot(path=str(ARTIFACTS / "model-serving-page.png"), full_page=True)
        finally:
            browser.close()
