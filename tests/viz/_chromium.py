"""Headless Chromium for the browser tests, spoken to over the DevTools pipe with the standard library.

Chromium runs with ``--remote-debugging-pipe``: JSON messages separated by NUL
bytes on file descriptors 3 (commands) and 4 (replies and events). Console
messages come from the ``Runtime`` domain, browser-side errors (failed loads,
refused resources, CSP violations) from ``Log``, and every request the page
makes from ``Network`` (``requestWillBeSent``), so nothing is inferred from the
page itself. Mouse input goes through ``Input.dispatchMouseEvent``: the page
receives real pointer and mouse events, as from a user.

Chromium comes from the Debian packages ``chromium`` and ``chromium-driver``
(``make browser`` installs them as root); without it the browser tests skip.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time

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
TIMEOUT = 30.0
# DOM key name -> Windows virtual key code (what Chromium's input pipeline dispatches on)
KEY_CODES = {"Enter": 13, "Tab": 9, "Escape": 27, "Space": 32, "End": 35, "Home": 36,
             "ArrowLeft": 37, "ArrowUp": 38, "ArrowRight": 39, "ArrowDown": 40}
SKIP_REASON = (
    "Chromium is not installed, so the page is not checked in a browser: "
    "run `make browser` as root (Debian packages chromium and chromium-driver)."
)


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    """A headless Chromium and one page."""

    def __init__(self, binary: str, profile_dir, *, width: int = 1400, height: int = 1000):
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
        argv = [binary, *FLAGS, f"--user-data-dir={profile_dir}", f"--window-size={width},{height}", "about:blank"]
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
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        self.events: list[dict] = []  # every event since the last open()

    def set_viewport(self, width: int, height: int) -> None:
        """Lay the page out at ``width`` x ``height`` CSS pixels (e.g. a laptop's 1366 x 768)."""
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    # ------------------------------------------------------------ protocol
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

    def _drain(self):
        while not self._events.empty():
            self.events.append(self._events.get_nowait())

    # ------------------------------------------------------------ pages
    def open(self, url, *, ready: str | None = None) -> float:
        """Load ``url`` and wait for its load event (and for the expression ``ready`` to be true).

        Returns the seconds from the navigation command to that point. The
        events since (console, log, network) collect in :attr:`events`.
        """
        while not self._events.empty():
            self._events.get_nowait()
        self.events = []
        start = time.perf_counter()
        self.call("Page.navigate", session=True, url=url)
        deadline = time.monotonic() + TIMEOUT
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"{url} did not finish loading in {TIMEOUT} s")
            try:
                self.events.append(self._events.get(timeout=remaining))
            except queue.Empty:
                continue
        while ready is not None and not self.evaluate(ready):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url}: {ready} stayed false for {TIMEOUT} s; errors: {self.errors()}")
            time.sleep(0.01)
        seconds = time.perf_counter() - start
        self._drain()
        return seconds

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (an exception in it raises here)."""
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} threw: {result['exceptionDetails'].get('exception', {}).get('description')}")
        return result["result"].get("value")

    def json(self, expression: str):
        """``JSON.parse`` of a JavaScript expression that returns a JSON string."""
        return json.loads(self.evaluate(expression))

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and browser log entries of level error, since open()."""
        self._drain()
        found = []
        for e in self.events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                found.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                details = p.get("exceptionDetails", {})
                found.append("exception: " + details.get("text", "") + " " + str(details.get("exception", {}).get("description", "")))
            elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                entry = p["entry"]
                found.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}")
        return found

    def requests(self) -> list[str]:
        """The URL of every request the page made since open() (the page itself included)."""
        self._drain()
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    # ------------------------------------------------------------ input
    def mouse(self, kind: str, x: float, y: float, *, pressed: bool = False):
        """One mouse event: ``kind`` is "move", "down" or "up" at viewport coordinates (x, y)."""
        event = {"move": "mouseMoved", "down": "mousePressed", "up": "mouseReleased"}[kind]
        params = {"type": event, "x": float(x), "y": float(y), "buttons": 1 if (pressed or kind == "down") else 0}
        if kind in ("down", "up"):
            params.update(button="left", clickCount=1)
        elif pressed:
            params["button"] = "left"
        self.call("Input.dispatchMouseEvent", session=True, **params)

    def drag(self, points, *, steps: int = 6):
        """Press at the first point, move through the others (``steps`` events per segment), release."""
        (x0, y0), *rest = points
        self.mouse("move", x0, y0)
        self.mouse("down", x0, y0)
        x, y = x0, y0
        for xn, yn in rest:
            for s in range(1, steps + 1):
                self.mouse("move", x + (xn - x) * s / steps, y + (yn - y) * s / steps, pressed=True)
            x, y = xn, yn
        self.mouse("up", x, y)

    def key(self, name: str):
        """Press and release one key (``"ArrowDown"``, ``"Enter"``, ``"Tab"``, ...) in the focused element.

        The page receives real (trusted) keyboard events, as from a user: a
        focused or open <select> moves its selection and fires ``input`` and
        ``change``.
        """
        code = KEY_CODES[name]
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", session=True, type=kind, key=name, code=name,
                      windowsVirtualKeyCode=code, nativeVirtualKeyCode=code)

    def click(self, x: float, y: float):
        self.mouse("move", x, y)
        self.mouse("down", x, y)
        self.mouse("up", x, y)

    def rect(self, selector: str, *, content: bool = False) -> dict:
        """The viewport rectangle of the first element matching ``selector`` (scrolled into view).

        ``content``: the box inside the element's border (a canvas's own pixels).
        """
        inner = ("{x: r.left + e.clientLeft, y: r.top + e.clientTop, width: e.clientWidth, height: e.clientHeight}"
                 if content else "{x: r.left, y: r.top, width: r.width, height: r.height}")
        return self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView({{block: 'center'}});"
            f" const r = e.getBoundingClientRect(); return {inner}; }})()"
        )

    def screenshot(self, path, *, selector: str | None = None, full_page: bool = False) -> bytes:
        """A PNG of the viewport, of one element, or of the whole page; written to ``path``."""
        params = {"format": "png"}
        if selector is not None:
            r = self.evaluate(
                f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                " return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height}; })()"
            )
            params.update(clip={**r, "scale": 1}, captureBeyondViewport=True)
        elif full_page:
            size = self.evaluate("({width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight})")
            params.update(clip={"x": 0, "y": 0, **size, "scale": 1}, captureBeyondViewport=True)
        data = base64.b64decode(self.call("Page.captureScreenshot", session=True, **params)["data"])
        with open(path, "wb") as fh:
            fh.write(data)
        return data

    # ------------------------------------------------------------ shutdown
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
