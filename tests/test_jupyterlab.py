"""Students open the notebooks in JupyterLab: a real JupyterLab server on localhost serves the
notebooks and starts the project's kernel for them, which runs the library (README: make lab)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from mbtevidence.reports import NOTEBOOKS_DIR, REPORT_NOTEBOOKS

TOKEN = uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(port: int, path: str, method: str = "GET", body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    return json.loads(text) if text else {}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    port = free_port()
    runtime = tmp_path_factory.mktemp("jupyter-runtime")
    log_path = runtime / "server.log"
    log = log_path.open("wb")  # a file, not a pipe: a full pipe would block the server
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--ServerApp.token={TOKEN}",
            f"--ServerApp.root_dir={NOTEBOOKS_DIR}",
            "--ServerApp.open_browser=False",
            "--allow-root",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime)},
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            api(port, "/api/status")
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("JupyterLab did not start: " + log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.5)
    yield port, runtime, log_path
    server.terminate()
    server.wait(timeout=30)
    log.close()


def wait_for_kernel_info(client, log_path, timeout: float = 120) -> None:
    """Ask the kernel for kernel_info until it answers.  (jupyter_client's wait_for_ready also
    checks the heartbeat, which a client without a kernel manager may reach before it is up:
    "Kernel died before replying to kernel_info" although the kernel is still starting.)"""
    from queue import Empty

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg_id = client.kernel_info()
        try:
            while True:
                reply = client.get_shell_msg(timeout=2)
                if reply["parent_header"].get("msg_id") == msg_id:
                    return
        except Empty:
            continue
    pytest.fail("the kernel never answered kernel_info; server log:\n" + log_path.read_text(errors="replace")[-3000:])


def test_lab_serves_the_notebooks_and_the_lab_page(lab) -> None:
    lab, _, _ = lab
    listed = {item["name"] for item in api(lab, "/api/contents")["content"]}
    assert set(REPORT_NOTEBOOKS) <= listed
    with urllib.request.urlopen(f"http://127.0.0.1:{lab}/lab?token={TOKEN}", timeout=30) as page:
        assert b"JupyterLab" in page.read()


def test_a_session_runs_the_library_in_the_projects_kernel(lab) -> None:
    from jupyter_client import BlockingKernelClient

    port, runtime, log_path = lab
    assert "python3" in api(port, "/api/kernelspecs")["kernelspecs"]
    session = api(
        port, "/api/sessions", "POST", {"path": REPORT_NOTEBOOKS[0], "type": "notebook", "kernel": {"name": "python3"}}
    )
    kernel_id = session["kernel"]["id"]
    try:
        connection = runtime / f"kernel-{kernel_id}.json"
        deadline = time.monotonic() + 60
        while not connection.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        client = BlockingKernelClient(connection_file=str(connection))
        client.load_connection_file()
        client.start_channels()
        try:
            wait_for_kernel_info(client, log_path)
            outputs = []
            reply = client.execute_interactive(
                "import mbtevidence as mbt; print(len(mbt.load_evidence(seeds_dir='/nonexistent').studies))",
                timeout=120,
                output_hook=lambda msg: outputs.append(msg["content"].get("text", "")),
            )
        finally:
            client.stop_channels()
        assert reply["content"]["status"] == "ok"
        assert int("".join(outputs).strip()) > 0
    finally:
        api(port, f"/api/sessions/{session['id']}", "DELETE")
