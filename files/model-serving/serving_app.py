# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Serve one registered model of a tenant's MLflow registry over HTTP (FastAPI).

The model is named by ``WORKBENCH_MODEL_NAME`` plus either
``WORKBENCH_MODEL_ALIAS`` (e.g. ``champion``) or ``WORKBENCH_MODEL_VERSION``.
The registry is the tenant's own: ``MLFLOW_TRACKING_URI`` (in the cluster the
pod gets the tenant's Secret, whose ``MLFLOW_BACKEND_STORE_URI`` is used when
no tracking URI is set), artifacts through the tenant's S3 keys.

Endpoints:

* ``GET /health``: 200 with the model's name, version and input columns once
  the model is loaded, 503 with the reason when it could not be loaded;
* ``POST /predict``: ``{"inputs": {"column": value, ...}}`` -> one prediction;
* ``POST /predict_batch``: ``{"inputs": [{...}, ...]}`` -> a list of predictions.

The predictions need ``Authorization: Bearer <token>`` with the token of
``WORKBENCH_SERVING_TOKEN`` (in the cluster: the generated Secret the role
writes); without it, or with another, 401. When no token is configured the API
refuses every prediction (503): a model is never served to anyone unasked.

Inputs are checked against the model's signature: a missing, unknown or
mistyped column gets a 422 that names it, before the model is called.

Run: ``uvicorn serving_app:app --host 0.0.0.0 --port 8000``.
"""

import hmac
import logging
import os
from contextlib import asynccontextmanager
from typing import Dict, List, Optional, Union

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

LOG = logging.getLogger("workbench.serving")

# A batch larger than this is refused (422): one request must not hold a small pod's memory.
DEFAULT_MAX_BATCH = 1000

Scalar = Union[bool, int, float, str]


class ModelSelection(BaseModel):
    """Which registered model to serve."""

    name: str
    alias: Optional[str] = None
    version: Optional[str] = None

    @property
    def uri(self):
        if self.version:
            return "models:/%s/%s" % (self.name, self.version)
        return "models:/%s@%s" % (self.name, self.alias)


def selection_from_env(environ=None):
    """The ModelSelection of ``WORKBENCH_MODEL_*``; ValueError naming what is wrong."""
    environ = os.environ if environ is None else environ
    name = environ.get("WORKBENCH_MODEL_NAME", "").strip()
    alias = environ.get("WORKBENCH_MODEL_ALIAS", "").strip() or None
    version = environ.get("WORKBENCH_MODEL_VERSION", "").strip() or None
    if not name:
        raise ValueError("WORKBENCH_MODEL_NAME is not set: which registered model should be served?")
    if alias and version:
        raise ValueError("set WORKBENCH_MODEL_ALIAS or WORKBENCH_MODEL_VERSION, not both")
    if not alias and not version:
        raise ValueError("set WORKBENCH_MODEL_ALIAS (e.g. champion) or WORKBENCH_MODEL_VERSION")
    if version and not version.isdigit():
        raise ValueError("WORKBENCH_MODEL_VERSION must be a number, got %r" % version)
    return ModelSelection(name=name, alias=alias, version=version)


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: Dict[str, Scalar] = Field(..., description="one record: column name -> value")


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: List[Dict[str, Scalar]] = Field(..., min_length=1, description="records: column name -> value")


class LoadedModel:
    """A pyfunc model with what /health reports about it."""

    def __init__(self, selection, pyfunc_model, version, run_id):
        self.selection, self.model, self.version, self.run_id = selection, pyfunc_model, version, run_id
        schema = pyfunc_model.metadata.get_input_schema()
        # Column name -> MLflow type name, when the model was logged with a column signature.
        self.columns = {}
        if schema is not None and schema.has_input_names():
            self.columns = {col.name: getattr(col.type, "name", str(col.type)) for col in schema.inputs}

    def describe(self):
        return {"name": self.selection.name, "alias": self.selection.alias, "version": self.version,
                "run_id": self.run_id, "inputs": self.columns}


# The registry is read once, at start-up, with the tenant's own PostgreSQL role, whose connection
# limit (users_postgres_connection_limit, 8) the tenant's lab needs too. MLflow's default pool kept
# up to 5 idle connections (15 with overflow) in this pod for nothing: no pool, closed after use.
DB_POOLCLASS = "NullPool"


def load_registered_model(selection, tracking_uri=None):
    """Resolve alias -> version in the registry, then load that exact version."""
    os.environ.setdefault("MLFLOW_SQLALCHEMYSTORE_POOLCLASS", DB_POOLCLASS)
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    if selection.version:
        model_version = client.get_model_version(selection.name, selection.version)
    else:
        model_version = client.get_model_version_by_alias(selection.name, selection.alias)
    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    exact = ModelSelection(name=selection.name, version=str(model_version.version))
    pyfunc_model = mlflow.pyfunc.load_model(exact.uri)
    return LoadedModel(selection, pyfunc_model, str(model_version.version), model_version.run_id)


def check_columns(records, columns):
    """Problems of ``records`` against the signature's columns (empty list = fine)."""
    if not columns:
        return []
    problems = []
    numeric = {"double", "float", "long", "integer"}
    for index, record in enumerate(records):
        where = "inputs" if len(records) == 1 else "inputs[%d]" % index
        missing = sorted(set(columns) - set(record))
        unknown = sorted(set(record) - set(columns))
        if missing:
            problems.append("%s: missing column(s) %s" % (where, ", ".join(missing)))
        if unknown:
            problems.append("%s: unknown column(s) %s (the model takes %s)"
                            % (where, ", ".join(unknown), ", ".join(columns)))
        for name, value in record.items():
            kind = columns.get(name, "")
            if kind in numeric and (isinstance(value, (bool, str))):
                problems.append("%s.%s: expected a number (%s), got %r" % (where, name, kind, value))
            elif kind in ("integer", "long") and isinstance(value, float) and not value.is_integer():
                problems.append("%s.%s: expected an integer, got %r" % (where, name, value))
    return problems


_SCALAR_BRANCHES = {"bool", "int", "float", "str"}


def readable_validation_errors(errors):
    """pydantic's errors as one line per field ("inputs.x: expected ..."), without union noise."""
    lines = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        if location and location[-1] in _SCALAR_BRANCHES:
            # one error per branch of the Scalar union: say it once, plainly
            location.pop()
            message = "expected a number, a string or a boolean, got %r" % (error.get("input"),)
        elif error.get("type") == "json_invalid":
            message = "the body is not valid JSON (%s)" % error.get("ctx", {}).get("error", "")
        else:
            message = error.get("msg", "invalid")
        line = "%s: %s" % (".".join(location) or "body", message)
        if line not in lines:
            lines.append(line)
    return lines


def to_json_list(predictions):
    """Model output (ndarray, Series, DataFrame or list) as plain JSON values."""
    if hasattr(predictions, "to_dict") and hasattr(predictions, "columns"):
        return predictions.to_dict(orient="records")
    if hasattr(predictions, "tolist"):
        return predictions.tolist()
    return list(predictions)


def token_problem(authorization, expected):
    """(status, reason) when the Authorization header does not carry ``expected``, else None."""
    if not expected:
        return 503, "no API token is configured (WORKBENCH_SERVING_TOKEN): predictions are refused"
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return 401, "send the API token as 'Authorization: Bearer <token>'"
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        return 401, "the API token is not valid"
    return None


def create_app(selection=None, tracking_uri=None, max_batch=None, token=None):
    """The FastAPI app; the model is loaded at start-up (a failure is reported by /health)."""
    state = {"model": None, "error": None}
    if max_batch is None:
        max_batch = int(os.environ.get("WORKBENCH_MAX_BATCH", DEFAULT_MAX_BATCH))
    if token is None:
        token = os.environ.get("WORKBENCH_SERVING_TOKEN", "").strip()

    def authorized(request: Request):
        problem = token_problem(request.headers.get("authorization"), token)
        if problem:
            raise HTTPException(status_code=problem[0], detail=problem[1], headers={"WWW-Authenticate": "Bearer"})

    @asynccontextmanager
    async def lifespan(_app):
        try:
            chosen = selection or selection_from_env()
            state["model"] = load_registered_model(chosen, tracking_uri or _tracking_uri_from_env())
            LOG.info("serving %s", state["model"].describe())
        except Exception as error:  # reported by /health instead of a crash loop without a reason
            state["error"] = "%s: %s" % (type(error).__name__, error)
            LOG.error("model not loaded: %s", state["error"])
        yield

    app = FastAPI(title="Workbench model serving", lifespan=lifespan)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request, error):
        return JSONResponse(status_code=422, content={"detail": readable_validation_errors(error.errors())})

    def loaded():
        if state["model"] is None:
            raise HTTPException(status_code=503, detail="model not loaded: %s" % state["error"])
        return state["model"]

    def predict_records(records):
        model = loaded()
        problems = check_columns(records, model.columns)
        if problems:
            raise HTTPException(status_code=422, detail=problems)
        import pandas as pd
        from mlflow.exceptions import MlflowException

        frame = pd.DataFrame.from_records(records)
        if model.columns:
            frame = frame[list(model.columns)]
        try:
            return to_json_list(model.model.predict(frame))
        except MlflowException as error:  # the signature enforcement refused the input
            raise HTTPException(status_code=422, detail=[error.message]) from error

    @app.get("/health")
    def health():
        if state["model"] is None:
            return JSONResponse(status_code=503, content={"status": "unavailable", "error": state["error"]})
        return {"status": "ok", "model": state["model"].describe()}

    @app.post("/predict", dependencies=[Depends(authorized)])
    def predict(request: PredictRequest):
        return {"prediction": predict_records([request.inputs])[0], "version": loaded().version}

    @app.post("/predict_batch", dependencies=[Depends(authorized)])
    def predict_batch(request: BatchRequest):
        if len(request.inputs) > max_batch:
            raise HTTPException(status_code=422, detail=["inputs: %d records, at most %d per request"
                                                         % (len(request.inputs), max_batch)])
        return {"predictions": predict_records(request.inputs), "version": loaded().version}

    return app


def _tracking_uri_from_env():
    """None when MLFLOW_TRACKING_URI is set (mlflow reads it itself), else the tenant's store."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    # The tenant's Secret carries the backend store URI; the registry lives in the same schema.
    return os.environ.get("MLFLOW_BACKEND_STORE_URI") or None


app = create_app()
