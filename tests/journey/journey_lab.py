"""A researcher's JupyterLab, driven through the hub as her browser drives it.

``hub_token(context, hub_url, name)``: an API token the hub gives the logged-in
user (her browser session's cookie + the hub's ``_xsrf``, the request the
hub's token page makes). ``Lab`` then uses that token on her single-user
server behind the proxy: the Contents API, and a kernel session on a notebook
(``POST api/sessions``, what opening a notebook in JupyterLab does), whose
cells run over the kernel's websocket exactly as the lab sends them.
"""
import datetime
import json
import uuid

import requests
import websocket


def hub_token(context, hub_url, name, note="journey"):
    """A token for ``name`` from the hub, asked for with the session of the browser ``context``."""
    cookies = {cookie["name"]: cookie["value"] for cookie in context.cookies(hub_url + "/hub/")}
    answer = requests.post(
        "%s/hub/api/users/%s/tokens" % (hub_url, name), json={"note": note, "expires_in": 3600},
        cookies=cookies, headers={"X-XSRFToken": cookies.get("_xsrf", ""), "Referer": hub_url + "/hub/token"},
        timeout=30)
    assert answer.status_code == 201, (answer.status_code, answer.text[-2000:])
    return answer.json()["token"]


class CellError(AssertionError):
    """A cell raised: its traceback (ANSI codes left in, as the kernel sent it)."""


class Lab:
    """``name``'s single-user server at ``hub_url``/user/<name>/, with her token."""

    def __init__(self, hub_url, name, token):
        self.base = "%s/user/%s/" % (hub_url, name)
        self.name, self.token = name, token

    def api(self, method, path, **kwargs):
        headers = dict(kwargs.pop("headers", {}), Authorization="token " + self.token)
        return requests.request(method, self.base + path, headers=headers, timeout=kwargs.pop("timeout", 60),
                                **kwargs)

    def contents(self, path):
        answer = self.api("GET", "api/contents/" + path)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[-1000:])
        return answer.json()["content"]

    def save_notebook(self, path, notebook):
        answer = self.api("PUT", "api/contents/" + path, json={"type": "notebook", "format": "json",
                                                                "content": notebook})
        assert answer.status_code in (200, 201), (answer.status_code, answer.text[-1000:])

    def new_notebook(self, path, sources):
        """A notebook with one code cell per source, saved at ``path`` (what File > New does, then typing)."""
        notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}},
            "cells": [{"cell_type": "code", "id": uuid.uuid4().hex[:8], "metadata": {}, "execution_count": None,
                       "outputs": [], "source": source} for source in sources]}
        self.save_notebook(path, notebook)
        return notebook

    def run_notebook(self, path, timeout=240):
        """Run every code cell of the notebook at ``path`` in a kernel session of the server, in order,
        save the outputs into the notebook and return it. A failing cell raises CellError."""
        notebook = self.contents(path)
        answer = self.api("POST", "api/sessions", json={
            "path": path, "name": path.rsplit("/", 1)[-1], "type": "notebook", "kernel": {"name": "python3"}})
        assert answer.status_code == 201, (answer.status_code, answer.text[-1000:])
        session = answer.json()
        try:
            kernel = KernelChannel(self.base, session["kernel"]["id"], self.token, self.name, timeout)
            try:
                for cell in notebook["cells"]:
                    if cell["cell_type"] != "code":
                        continue
                    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
                    cell["outputs"], cell["execution_count"] = kernel.execute(source)
                    errors = [out for out in cell["outputs"] if out["output_type"] == "error"]
                    if errors:
                        self.save_notebook(path, notebook)
                        raise CellError("%s: a cell failed:\n%s\n%s" % (
                            path, source, "\n".join(errors[0]["traceback"])))
            finally:
                kernel.close()
            self.save_notebook(path, notebook)
            return notebook
        finally:
            self.api("DELETE", "api/sessions/" + session["id"])


class KernelChannel:
    """The kernel's websocket through the hub's proxy (JupyterLab's default JSON protocol)."""

    def __init__(self, base, kernel_id, token, user, timeout):
        self.session, self.user, self.timeout = uuid.uuid4().hex, user, timeout
        url = base.replace("http", "ws", 1) + "api/kernels/%s/channels?session_id=%s" % (kernel_id, self.session)
        self.ws = websocket.create_connection(url, header=["Authorization: token " + token], timeout=timeout)

    def close(self):
        self.ws.close()

    def execute(self, code):
        """(outputs in nbformat, execution_count) of running ``code``."""
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": self.user, "session": self.session,
                       "msg_type": "execute_request", "version": "5.3",
                       "date": datetime.datetime.now(datetime.timezone.utc).isoformat()},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        outputs, count, idle, replied = [], None, False, False
        while not (idle and replied):
            message = json.loads(self.ws.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if message["channel"] == "shell" and kind == "execute_reply":
                replied, count = True, content.get("execution_count")
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
            elif kind == "stream":
                if outputs and outputs[-1]["output_type"] == "stream" and outputs[-1]["name"] == content["name"]:
                    outputs[-1]["text"] += content["text"]
                else:
                    outputs.append({"output_type": "stream", "name": content["name"], "text": content["text"]})
            elif kind in ("display_data", "execute_result"):
                output = {"output_type": kind, "data": content["data"], "metadata": content.get("metadata", {})}
                if kind == "execute_result":
                    output["execution_count"] = content["execution_count"]
                outputs.append(output)
            elif kind == "error":
                outputs.append({"output_type": "error", "ename": content["ename"], "evalue": content["evalue"],
                                "traceback": content["traceback"]})
        return outputs, count


def text_of(notebook):
    """Everything the code cells printed (streams and plain-text results), for assertions."""
    parts = []
    for cell in notebook["cells"]:
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream":
                parts.append(out["text"])
            elif "data" in out and "text/plain" in out["data"]:
                parts.append(out["data"]["text/plain"])
    return "".join(parts)
