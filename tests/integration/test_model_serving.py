"""The model-serving API (files/model-serving/serving_app.py) against a real MLflow registry.

The registry is a real ``mlflow server`` with a registered scikit-learn model
(tests/fixtures/mlflow_registry.py); the app loads it by alias or by version
through the registry, exactly as in the pod. Requests go through FastAPI's
TestClient (the ASGI app itself, no network mock): predictions must equal the
model's own ``predict``, bad payloads get a 422 naming the problem. The
predictions need the API token (``Authorization: Bearer``): without it, with
another one, or with none configured, nothing is predicted.
"""
import importlib.util
import pathlib
import secrets

import pytest

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
APP_PATH = ROOT / "files" / "model-serving" / "serving_app.py"


def load_serving_module():
    spec = importlib.util.spec_from_file_location("serving_app", APP_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


serving = load_serving_module()


@pytest.fixture(scope="module")
def tracking_env(mlflow_registry):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_registry.uri)
        yield mlflow_registry


# Generated per run, as the role generates it per served model.
TOKEN = secrets.token_urlsafe(32)
AUTHORIZED = {"Authorization": "Bearer " + TOKEN}


def client_for(selection, max_batch=None, token=TOKEN, headers=AUTHORIZED):
    from fastapi.testclient import TestClient
    return TestClient(serving.create_app(selection=selection, max_batch=max_batch, token=token), headers=headers)


@pytest.fixture(scope="module")
def api(tracking_env):
    selection = serving.ModelSelection(name=tracking_env.model_name, alias=tracking_env.alias)
    with client_for(selection, max_batch=50) as client:
        yield client


def records(features, rows):
    return [{k: float(v) for k, v in features.iloc[i].items()} for i in rows]


def test_health_names_the_model_version_and_columns(api, tracking_env):
    answer = api.get("/health")
    assert answer.status_code == 200, answer.text
    model = answer.json()["model"]
    assert model["name"] == tracking_env.model_name and model["alias"] == "champion"
    assert model["version"] == tracking_env.version
    assert list(model["inputs"]) == list(tracking_env.features.columns)
    assert set(model["inputs"].values()) == {"double"}


def test_predict_equals_the_models_own_predict(api, tracking_env):
    features = tracking_env.features
    for row in (0, 60, 120):  # one of each iris class
        answer = api.post("/predict", json={"inputs": records(features, [row])[0]})
        assert answer.status_code == 200, answer.text
        expected = tracking_env.model.predict(features.iloc[[row]])[0]
        assert answer.json()["prediction"] == expected
        assert answer.json()["version"] == tracking_env.version


def test_predict_batch_equals_the_models_own_predict(api, tracking_env):
    features = tracking_env.features
    rows = list(range(0, 150, 7))
    answer = api.post("/predict_batch", json={"inputs": records(features, rows)})
    assert answer.status_code == 200, answer.text
    expected = tracking_env.model.predict(features.iloc[rows]).tolist()
    assert answer.json()["predictions"] == expected
    assert len(set(expected)) == 3, "the sample should cover every class"


def test_columns_in_another_order_give_the_same_prediction(api, tracking_env):
    record = records(tracking_env.features, [77])[0]
    reordered = dict(reversed(list(record.items())))
    assert api.post("/predict", json={"inputs": reordered}).json() == api.post(
        "/predict", json={"inputs": record}).json()


def test_served_by_version_as_well_as_by_alias(tracking_env):
    selection = serving.ModelSelection(name=tracking_env.model_name, version=tracking_env.version)
    with client_for(selection) as client:
        health = client.get("/health").json()
        assert health["model"]["version"] == tracking_env.version and health["model"]["alias"] is None
        record = records(tracking_env.features, [140])[0]
        assert client.post("/predict", json={"inputs": record}).json()["prediction"] == \
            tracking_env.model.predict(tracking_env.features.iloc[[140]])[0]


@pytest.mark.parametrize("payload, expected_in_message", [
    (lambda r: {"inputs": {k: v for k, v in r.items() if k != "petal_width"}}, "missing column(s) petal_width"),
    (lambda r: {"inputs": dict(r, colour=1.0)}, "unknown column(s) colour"),
    (lambda r: {"inputs": dict(r, sepal_length="long")}, "sepal_length: expected a number"),
    (lambda r: {"inputs": dict(r, sepal_length=[1, 2])}, "inputs.sepal_length: expected a number, a string or a boolean"),
    (lambda r: {"records": r}, "inputs: Field required"),
    (lambda r: {"inputs": r, "extra": 1}, "extra: Extra inputs are not permitted"),
    (lambda r: [r], "body: Input should be a valid dictionary"),
])
def test_bad_single_payloads_get_422_naming_the_problem(api, tracking_env, payload, expected_in_message):
    record = records(tracking_env.features, [3])[0]
    answer = api.post("/predict", json=payload(record))
    assert answer.status_code == 422, answer.text
    assert expected_in_message in answer.text


def test_bad_batches_get_422(api, tracking_env):
    good = records(tracking_env.features, [1, 2])
    answer = api.post("/predict_batch", json={"inputs": []})
    assert answer.status_code == 422 and "at least 1" in answer.text
    answer = api.post("/predict_batch", json={"inputs": [good[0], {"sepal_length": 1.0}]})
    assert answer.status_code == 422 and "inputs[1]: missing column(s)" in answer.text
    assert "inputs[0]" not in answer.text, "the good record is not blamed"
    answer = api.post("/predict_batch", json={"inputs": good * 26})
    assert answer.status_code == 422 and "52 records, at most 50" in answer.text
    answer = api.post("/predict", content=b"{not json", headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and "JSON" in answer.text


def test_unknown_model_or_alias_is_reported_by_health(tracking_env):
    for selection in (serving.ModelSelection(name="no-such-model", alias="champion"),
                      serving.ModelSelection(name=tracking_env.model_name, alias="no-such-alias")):
        with client_for(selection) as client:
            health = client.get("/health")
            assert health.status_code == 503
            assert health.json()["status"] == "unavailable" and health.json()["error"]
            predict = client.post("/predict", json={"inputs": {"sepal_length": 1.0}})
            assert predict.status_code == 503 and "model not loaded" in predict.text


@pytest.mark.parametrize("environ, message", [
    ({}, "WORKBENCH_MODEL_NAME is not set"),
    ({"WORKBENCH_MODEL_NAME": "m"}, "set WORKBENCH_MODEL_ALIAS"),
    ({"WORKBENCH_MODEL_NAME": "m", "WORKBENCH_MODEL_ALIAS": "a", "WORKBENCH_MODEL_VERSION": "1"}, "not both"),
    ({"WORKBENCH_MODEL_NAME": "m", "WORKBENCH_MODEL_VERSION": "latest"}, "must be a number"),
])
def test_model_selection_from_environment_refuses_bad_settings(environ, message):
    with pytest.raises(ValueError, match=message):
        serving.selection_from_env(environ)
    assert serving.selection_from_env({"WORKBENCH_MODEL_NAME": "m", "WORKBENCH_MODEL_ALIAS": "champion"}).uri \
        == "models:/m@champion"


@pytest.mark.parametrize("headers, status, message", [
    ({}, 401, "Authorization: Bearer"),
    ({"Authorization": "Bearer " + TOKEN[:-1]}, 401, "not valid"),
    ({"Authorization": "Bearer " + TOKEN + "x"}, 401, "not valid"),
    ({"Authorization": "Basic " + TOKEN}, 401, "Authorization: Bearer"),
    ({"Authorization": "Bearer "}, 401, "Authorization: Bearer"),
])
def test_predictions_refused_without_the_token(tracking_env, headers, status, message):
    selection = serving.ModelSelection(name=tracking_env.model_name, alias=tracking_env.alias)
    record = records(tracking_env.features, [3])[0]
    with client_for(selection, headers=headers) as client:
        for path, body in (("/predict", {"inputs": record}), ("/predict_batch", {"inputs": [record]})):
            answer = client.post(path, json=body)
            assert answer.status_code == status and message in answer.text, (path, answer.text)
            assert answer.headers["www-authenticate"] == "Bearer"
            assert "prediction" not in answer.text
        # the same client with the token is served: the refusal is the token's, not the model's
        assert client.post("/predict", json={"inputs": record}, headers=AUTHORIZED).status_code == 200


def test_no_configured_token_refuses_every_prediction(tracking_env, monkeypatch):
    monkeypatch.delenv("WORKBENCH_SERVING_TOKEN", raising=False)
    selection = serving.ModelSelection(name=tracking_env.model_name, alias=tracking_env.alias)
    with client_for(selection, token=None, headers={"Authorization": "Bearer "}) as client:
        answer = client.post("/predict", json={"inputs": records(tracking_env.features, [3])[0]})
        assert answer.status_code == 503 and "no API token is configured" in answer.text
        assert client.get("/health").status_code == 200, "probes still see the model"
