# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small page in front of the model-serving API: one input per model column, Predict.

The API's address is ``WORKBENCH_SERVING_URL`` (in the cluster: the API's
Service), its token ``WORKBENCH_SERVING_TOKEN``. The columns come from the API's ``/health`` (the model's signature),
so the page fits whichever model is served.

Run: ``streamlit run streamlit_app.py --server.port 8501``.
"""

import json
import os
import urllib.error
import urllib.request

import streamlit as st

SERVING_URL = os.environ.get("WORKBENCH_SERVING_URL", "http://127.0.0.1:8000").rstrip("/")
# The API's token (the same Secret the API reads); sent with every call, never shown on the page.
SERVING_TOKEN = os.environ.get("WORKBENCH_SERVING_TOKEN", "").strip()
TIMEOUT = float(os.environ.get("WORKBENCH_SERVING_TIMEOUT", "30"))


def call(path, payload=None):
    """(status, decoded JSON body) of the API; POST when there is a payload."""
    data = None if payload is None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if SERVING_TOKEN:
        headers["Authorization"] = "Bearer " + SERVING_TOKEN
    request = urllib.request.Request(SERVING_URL + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


st.set_page_config(page_title="Model serving", layout="centered")
st.title("Model serving")

try:
    status, health = call("/health")
except OSError as error:
    st.error("The model API at %s cannot be reached: %s" % (SERVING_URL, error))
    st.stop()
if status != 200:
    st.error("The model API is up but has no model: %s" % health.get("error"))
    st.stop()

model = health["model"]
st.caption("Model **%s** version %s%s, served by %s" % (
    model["name"], model["version"], " (alias %s)" % model["alias"] if model.get("alias") else "", SERVING_URL))

columns = model.get("inputs") or {}
if not columns:
    st.warning("The model has no column signature; send JSON records to /predict directly.")
    st.stop()

with st.form("inputs"):
    values = {}
    for name, kind in columns.items():
        if kind in ("double", "float"):
            values[name] = st.number_input(name, value=0.0, format="%.4f")
        elif kind in ("integer", "long"):
            values[name] = int(st.number_input(name, value=0, step=1))
        elif kind == "boolean":
            values[name] = st.checkbox(name)
        else:
            values[name] = st.text_input(name)
    submitted = st.form_submit_button("Predict")

if submitted:
    status, answer = call("/predict", {"inputs": values})
    if status == 200:
        st.success("Prediction: %s" % json.dumps(answer["prediction"]))
    else:
        st.error("The API refused the input (%s): %s" % (status, answer.get("detail")))
