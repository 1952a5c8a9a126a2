"""The report opened from disk in headless Chromium: every image loads, no console error, tables present.

Chromium is driven through its DevTools protocol over ``--remote-debugging-pipe``
(JSON messages separated by NUL bytes on file descriptors 3 and 4), with the
standard library only. Console messages come from the ``Runtime`` domain and
browser-side errors (failed loads, refused resources, CSP violations) from the
``Log`` domain, so nothing is inferred from the page itself. A control page
with a broken image, a missing file and a ``console.error`` checks that the
harness does see such failures.

Chromium comes from the Debian packages ``chromium`` and ``chromium-driver``
(``make browser`` installs them as root); without it this test skips.
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from aekit.cli._run import write_run  # noqa: E402
from aekit.inspection import activation_maximization  # noqa: E402
from aekit.viz import (  # noqa: E402
    plot_activation_histogram,
    plot_activation_maximization,
    plot_filters,
    plot_history,
    plot_reconstructions,
    write_report,
)

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-quic",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-pipe",
]
TIMEOUT = 20.0

# What the page reports about itself once loaded (read back by value, not trusted for errors).
PROBE = """JSON.stringify({
  images: Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete,
                                                 width: i.naturalWidth, height: i.naturalHeight})),
  tables: Array.from(document.querySelectorAll('table')).map(t => t.id),
  metricRows: Array.from(document.querySelectorAll('table.metrics tbody tr')).length,
  styled: getComputedStyle(document.querySelector('table') || document.body).borderCollapse,
})"""


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    """A headless Chromium and one page, spoken to over the DevTools pipe."""

    def __init__(self, binary: str, profile_dir):
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        # Chromium reads commands on fd 3 and writes replies on fd 4. Our child ends are moved
        # above 10 first, then a tiny Python trampoline puts them on 3 and 4 and execs Chromium.
        child_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD_CLOEXEC, 10)
        for fd in (to_chrome_r, from_chrome_w):
            os.close(fd)
        self._stderr = open(os.path.join(profile_dir, "stderr.log"), "wb")
        trampoline = (
            "import os, sys; r, w = int(sys.argv[1]), int(sys.argv[2]); os.dup2(r, 3); os.dup2(w, 4); "
            "os.close(r); os.close(w); os.execv(sys.argv[3], sys.argv[3:])"
        )
        argv = [binary, *FLAGS, f"--user-data-dir={profile_dir}", "about:blank"]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", trampoline, str(child_r), str(child_w), *argv],
            pass_fds=(child_r, child_w), stdin=subprocess.DEVNULL, stdout=self._stderr, stderr=self._stderr,
        )
        os.close(child_r)
        os.close(child_w)
        self._out, self._in = to_chrome_w, from_chrome_r
        self._replies: dict[int, dict] = {}
        self._events: queue.Queue = queue.Queue()
        self._cond = threading.Condition()
        self._next_id = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)

    def _read(self):
        buf = b""
        while True:
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                with self._cond:
                    self._cond.notify_all()
                return
            buf += chunk
            *messages, buf = buf.split(b"\0")
            for raw in messages:
                msg = json.loads(raw)
                if "id" in msg:
                    with self._cond:
                        self._replies[msg["id"]] = msg
                        self._cond.notify_all()
                else:
                    self._events.put(msg)

    def call(self, method, session=False, **params):
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self._out, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        with self._cond:
            while msg["id"] not in self._replies:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Chromium did not answer {method}: {self.stderr_tail()}")
                self._cond.wait(0.2)
            reply = self._replies.pop(msg["id"])
        if "error" in reply:
            raise RuntimeError(f"{method} failed: {reply['error']}")
        return reply["result"]

    def open(self, url):
        """Load ``url``; return (what the page reports, the errors the browser logged)."""
        while not self._events.empty():
            self._events.get_nowait()
        self.call("Page.navigate", session=True, url=url)
        events = []
        deadline = time.monotonic() + TIMEOUT
        while not any(e.get("method") == "Page.loadEventFired" for e in events):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"{url} did not finish loading in {TIMEOUT} s")
            try:
                events.append(self._events.get(timeout=remaining))
            except queue.Empty:
                continue
        result = self.call("Runtime.evaluate", session=True, expression=PROBE, returnByValue=True)
        page = json.loads(result["result"]["value"])
        while not self._events.empty():  # events sent before the evaluation's reply
            events.append(self._events.get_nowait())
        return page, _errors(events)

    def stderr_tail(self):
        self._stderr.flush()
        with open(self._stderr.name, "rb") as fh:
            return fh.read()[-2000:].decode(errors="replace")

    def close(self):
        try:
            self.call("Browser.close")
        except RuntimeError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._out, self._in):
            os.close(fd)
        self._stderr.close()


def _errors(events):
    """Console errors, uncaught exceptions and browser log entries of level error."""
    found = []
    for e in events:
        method, p = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            found.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            found.append("exception: " + p.get("exceptionDetails", {}).get("text", ""))
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            entry = p["entry"]
            found.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}")
    return found


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    binary = _chromium()
    if binary is None:
        pytest.skip(
            "Chromium is not installed, so the report is not checked in a browser: "
            "run `make browser` as root (Debian packages chromium and chromium-driver)."
        )
    chrome = Chromium(binary, str(tmp_path_factory.mktemp("chromium-profile")))
    yield chrome
    chrome.close()


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory):
    """Two real run folders: PCA on digits, and a small torch encoder's activation maximization."""
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runs")
    X = load_digits().data[:500] / 16.0
    pca = PCA(n_components=16, random_state=0).fit(X)
    recon = pca.inverse_transform(pca.transform(X[:8]))
    write_run(
        root / "pca", command="fit pca", dataset="digits", report=False,
        metrics={"reconstruction_mse": float(np.mean((recon - X[:8]) ** 2)),
                 "explained_variance": float(pca.explained_variance_ratio_.sum())},
        figures={"filters": plot_filters(pca.components_, (8, 8)),
                 "reconstructions": plot_reconstructions(X[:8], recon, (8, 8))},
        extra={"estimator": "PCA", "params": pca.get_params()},
    )
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.Sigmoid())
    am = activation_maximization(encoder, 64, n_starts=3, norm=3.0, random_state=0)
    with torch.no_grad():
        codes = encoder(torch.tensor(X, dtype=torch.float32)).numpy()
    history = [{"epoch": e, "reconstruction": 20.0 / e, "kl_sparsity": 0.5 / e, "loss": 20.5 / e} for e in (1, 2, 3)]
    write_run(
        root / "encoder", command="train autoencoder", dataset="digits", history=history, report=False,
        metrics={"median_cosine_across_starts": float(np.median(am.mean_cosine))},
        figures={"filters": plot_filters(encoder[0].weight, (8, 8)),
                 "activation_maximization": plot_activation_maximization(am, (8, 8)),
                 "activation_histogram": plot_activation_histogram(codes, rho0=0.05),
                 "training_curves": plot_history(history)},
        extra={"estimator": "SparseAutoencoder", "params": {"n_components": 16, "sparsity": "kl:0.05:3"}},
    )
    torch.set_num_threads(torch_threads)
    return root / "pca", root / "encoder"


@pytest.mark.parametrize("which", ["single", "comparison"])
def test_report_renders_in_chromium(browser, run_dirs, tmp_path, which):
    dirs = run_dirs[1:] if which == "single" else run_dirs
    n_figures = sum(len(list((d / "figures").glob("*.png"))) for d in dirs)
    out = write_report(dirs, tmp_path / "report.html")
    page, errors = browser.open(out.resolve().as_uri())
    assert errors == []
    assert len(page["images"]) == n_figures
    for img in page["images"]:
        assert img["complete"] and img["width"] > 0 and img["height"] > 0, img
    assert "metrics-0" in page["tables"] and page["metricRows"] > 0
    if which == "comparison":
        assert "metrics-comparison" in page["tables"] and "metrics-1" in page["tables"]
    assert page["styled"] == "collapse"  # the inline style sheet was applied (not refused by the CSP)


def test_the_harness_sees_broken_images_and_console_errors(browser, tmp_path):
    control = tmp_path / "control.html"
    control.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>control</title></head><body>"
        "<table class='metrics' id='metrics-0'><tbody><tr><td>1</td></tr></tbody></table>"
        "<img alt='corrupt' src='data:image/png;base64,AAAA'>"
        "<img alt='missing' src='no-such-figure.png'>"
        "<script>console.error('boom')</script></body></html>"
    )
    page, errors = browser.open(control.resolve().as_uri())
    assert [img["width"] for img in page["images"]] == [0, 0]
    assert any("boom" in e for e in errors), errors
    assert any("no-such-figure.png" in e or "ERR_FILE_NOT_FOUND" in e for e in errors), errors
