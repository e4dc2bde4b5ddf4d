"""The load generator's HTTP side: a small HTTP/1.1 client on raw sockets, simulated users
(a cookie, a CSRF token, the version of their report) and the two kinds of load.

- ``closed_loop``: C threads, each its own user, send one operation back to back for a fixed
  time; throughput and latency of that operation alone.
- ``OpenLoop``: events at fixed times whatever the server does (the deadline-day scenario: 500
  applicants each opening a page every 10 s and autosaving every 20 s, reviewers and
  administrators reading, a PDF every 5 s); latency is measured from the time the request was
  due, so a stalled server shows as latency, not as fewer requests; the send lag (due time to
  the moment a thread sends it) shows whether the client itself kept up.

Only 127.0.0.1 is ever contacted.  The client keeps a connection while the server allows it
(production's threaded workers keep connections alive for a few seconds; sync workers close
every connection after the response) and reconnects otherwise.  The client runs in the same 2 cores as the server: it costs CPU the
workers would otherwise have, the more so the cheaper the page (the bare route most).
"""
from __future__ import annotations

import heapq
import json
import re
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

HOST = "127.0.0.1"
TIMEOUT = 120.0


@dataclass
class Response:
    status: int
    headers: dict  # lower-case name -> list of values
    body: bytes

    def header(self, name: str, default: str = "") -> str:
        values = self.headers.get(name.lower())
        return values[-1] if values else default

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def _read_response(sock, buf: bytes, head_only: bool = False) -> tuple[Response, bool]:
    """One response from ``sock`` (``buf``: bytes already read); (response, connection reusable)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before the response headers")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    keep = "close" not in ",".join(headers.get("connection", [])).lower()
    if "content-length" in headers:
        length = int(headers["content-length"][-1])
        while len(rest) < length:
            chunk = sock.recv(max(65536, length - len(rest)))
            if not chunk:
                raise ConnectionError("connection closed in the body")
            rest += chunk
        return Response(status, headers, rest[:length]), keep
    if "chunked" in ",".join(headers.get("transfer-encoding", [])).lower():
        return Response(status, headers, _read_chunked(sock, rest)), keep
    while True:  # no length: the body ends with the connection
        chunk = sock.recv(65536)
        if not chunk:
            return Response(status, headers, rest), False
        rest += chunk


def _read_chunked(sock, buf: bytes) -> bytes:
    body = b""
    while True:
        while b"\r\n" not in buf:
            buf += sock.recv(65536)
        size_line, _, buf = buf.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        while len(buf) < size + 2:
            buf += sock.recv(65536)
        if size == 0:
            return body
        body, buf = body + buf[:size], buf[size + 2:]


class Client:
    """One browser: its cookies, one connection at a time, no redirects followed."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict = {}
        self.sock = None

    def copy(self) -> Client:
        other = Client(self.port)
        other.cookies = dict(self.cookies)
        return other

    def _connect(self):
        sock = socket.create_connection((HOST, self.port), timeout=TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> Response:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{self.port}", "Accept-Encoding: identity"]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        for attempt in (0, 1):
            reused = self.sock is not None
            if self.sock is None:
                self.sock = self._connect()
            try:
                self.sock.sendall(data)
                response, keep = _read_response(self.sock, b"")
                break
            except (ConnectionError, OSError):
                self.close()
                if not reused or attempt:  # a fresh connection failed: a real error
                    raise
        if not keep:
            self.close()
        self._remember(response)
        return response

    def _remember(self, response: Response) -> None:
        for cookie in response.headers.get("set-cookie", []):
            pair, _, attrs = cookie.partition(";")
            name, _, value = pair.partition("=")
            gone = "max-age=0" in attrs.lower().replace(" ", "") or "1970" in attrs
            if gone or not value:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value.strip()

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def get(self, path: str, headers: dict | None = None) -> Response:
        return self.request("GET", path, headers=headers)

    def post_form(self, path: str, fields, headers: dict | None = None) -> Response:
        body = urlencode(fields).encode()
        return self.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded",
                                                 **(headers or {})})

    def post_multipart(self, path: str, fields, headers: dict | None = None) -> Response:
        """As the browser's FormData posts (autosave): multipart/form-data."""
        boundary = "----bench" + uuid.uuid4().hex
        parts = []
        for name, value in fields:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n')
        body = ("".join(parts) + f"--{boundary}--\r\n").encode("utf-8")
        return self.request("POST", path, body, {"Content-Type": f"multipart/form-data; boundary={boundary}",
                                                 **(headers or {})})


# --- pages: CSRF tokens and the fields of a form -------------------------------------------

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
META_REFRESH = re.compile(r'<meta[^>]+http-equiv="refresh"[^>]+content="(\d+)', re.I)


def csrf_of(text: str) -> str | None:
    m = CSRF.search(text)
    return m.group(1) if m else None


class FormFields(HTMLParser):
    """The fields a browser posts from the form that autosaves (or the first form with fields)."""

    def __init__(self, marker: str = "data-autosave-url"):
        super().__init__(convert_charrefs=True)
        self.marker, self.inside, self.fields = marker, False, []
        self._textarea = self._select = None
        self._selected = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.marker in a:
            self.inside = True
        if not self.inside:
            return
        if tag == "input" and a.get("name") and a.get("type", "text") not in ("file", "submit", "button", "image"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "on" if a.get("type") == "checkbox" else "")))
        elif tag == "textarea" and a.get("name"):
            self._textarea = [a["name"], ""]
        elif tag == "select" and a.get("name"):
            self._select, self._selected = a["name"], None
        elif tag == "option" and self._select is not None:
            if "selected" in a or self._selected is None:
                self._selected = a.get("value", "") if "selected" in a else (self._selected or a.get("value", ""))

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append(tuple(self._textarea))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            self.fields.append((self._select, self._selected or ""))
            self._select = None


def form_fields(html: str) -> list:
    parser = FormFields()
    parser.feed(html)
    return parser.fields


# --- users --------------------------------------------------------------------------------

class LoadError(Exception):
    pass


@dataclass
class User:
    """A logged-in account: its browser, a CSRF token, and (applicants) its step forms."""

    client: Client
    username: str
    token: str = ""
    version: str = ""
    forms: dict = field(default_factory=dict)  # step key -> posted fields (without csrf/version)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def login(cls, port: int, username: str, password: str, home: str) -> User:
        client = Client(port)
        page = client.get("/login")
        token = csrf_of(page.text)
        r = client.post_form("/login", [("csrf_token", token), ("username", username), ("password", password)])
        if r.status != 302:
            raise LoadError(f"{username} could not log in ({r.status})")
        home_page = client.get(home)
        user = cls(client, username, csrf_of(home_page.text) or token)
        client.close()
        return user

    def load_step(self, step_key: str) -> None:
        """Open the step once: its fields as the browser would post them, the version."""
        r = self.client.get(f"/applicant/step/{step_key}")
        if r.status != 200:
            raise LoadError(f"{self.username}: step {step_key} answered {r.status}")
        fields = form_fields(r.text)
        self.version = dict(fields).get("version", self.version)
        self.token = dict(fields).get("csrf_token", self.token)
        self.forms[step_key] = [(k, v) for k, v in fields if k not in ("csrf_token", "version")]


# --- operations ---------------------------------------------------------------------------

def ok(r: Response, *statuses) -> bool:
    return r.status in (statuses or (200,))


#: what static/js/wizard.js sends with every autosave besides the changed fields
AUTOSAVE_ALWAYS = ("csrf_token", "version", "loaded", "confirm_carried")


def changed_only(form: list, key: str | None = None) -> list:
    """An autosave as static/js/wizard.js sends it (issue #25): the inputs of the changed field
    (``key``; default the form's first field: one typed value, as a user types) with ``fields``
    naming it, plus the hidden fields every save carries."""
    keys = [n.split("-", 1)[0] for n, _ in form if n not in AUTOSAVE_ALWAYS]
    key = key or (keys[0] if keys else "")
    return ([(n, v) for n, v in form if n in AUTOSAVE_ALWAYS or n.split("-", 1)[0] == key]
            + [("fields", key)])


def autosave(user: User, step_key: str, value: str | None = None, log: list | None = None) -> bool:
    """The autosave fetch of static/js/wizard.js: the changed field as FormData (changed_only),
    X-CSRFToken, JSON back.  With ``value``, the changed field's first input is sent with that
    value (a user typing something new); with ``log``, the attempt is appended to it as
    {username, field, value, version, acked} for the "nothing lost" check (load_check.py): acked
    when the server answered 200 ``ok`` without a warning (a warning means a typed value was
    refused, so it was not stored)."""
    with user.lock:
        changed = changed_only(user.forms[step_key])
        field = None
        if value is not None:
            i = next(i for i, (n, _) in enumerate(changed) if n not in AUTOSAVE_ALWAYS and n != "fields")
            field = changed[i][0]
            changed[i] = (field, value)
        fields = [("csrf_token", user.token), ("version", user.version)] + changed
        entry = {"username": user.username, "field": field, "value": value, "version": None, "acked": False}
        if log is not None:
            log.append(entry)
        r = user.client.post_multipart(f"/applicant/step/{step_key}", fields,
                                       {"X-Requested-With": "fetch", "Accept": "application/json",
                                        "X-CSRFToken": user.token})
        if r.status != 200:
            return False
        answer = json.loads(r.body)
        user.version = str(answer["version"])
        entry.update(version=answer["version"], acked=bool(answer.get("ok")) and not answer.get("warning"))
        return entry["acked"]


def save(user: User, step_key: str) -> bool:
    """保存: the form posted (urlencoded, as a browser submits it), then the redirect followed."""
    with user.lock:
        fields = [("csrf_token", user.token), ("version", user.version)] + user.forms[step_key] + [("action", "save")]
        r = user.client.post_form(f"/applicant/step/{step_key}", fields)
        if r.status != 302:
            return False
        page = user.client.get(urlsplit(r.header("location")).path + "?saved=1")
        m = re.search(r'name="version"[^>]*value="(\d+)"', page.text)
        if m:
            user.version = m.group(1)
        return page.status == 200


def percentile(sorted_values, q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[k]


def summarise(latencies: list, errors: int, seconds: float) -> dict:
    values = sorted(latencies)
    return {"requests": len(values), "errors": errors, "seconds": round(seconds, 3),
            "rps": len(values) / seconds if seconds else 0.0,
            "p50_ms": percentile(values, 0.50) * 1000, "p99_ms": percentile(values, 0.99) * 1000,
            "max_ms": (values[-1] * 1000) if values else float("nan")}


def closed_loop(actions, duration: float) -> dict:
    """Each action (one per thread, a callable returning success) runs back to back for ``duration``."""
    latencies, errors = [], [0]
    lock = threading.Lock()
    start = time.perf_counter()
    stop = start + duration

    def run(action):
        mine, bad = [], 0
        while True:
            t = time.perf_counter()
            if t >= stop:
                break
            try:
                good = action()
            except (OSError, ConnectionError, LoadError, ValueError, KeyError):
                good = False
            mine.append(time.perf_counter() - t)
            bad += not good
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    cpu0 = time.process_time()
    threads = [threading.Thread(target=run, args=(a,)) for a in actions]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - start
    result = summarise(latencies, errors[0], elapsed)
    result["client_cpu"] = (time.process_time() - cpu0) / elapsed  # cores the load generator used
    return result


class OpenLoop:
    """Events at fixed times, run by a pool of threads; latency from the time each was due."""

    def __init__(self, threads: int = 128):
        self.heap: list = []
        self.lags: list = []  # seconds between an event's due time and its thread starting it
        self.seq = 0
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.pool = ThreadPoolExecutor(max_workers=threads)
        self.results: dict = {}  # operation -> [latencies], errors
        self.errors: dict = {}
        self.samples: list = []  # extra measurements (name, seconds)
        self.error_notes: list = []

    def at(self, when: float, name: str, action) -> None:
        with self.cond:
            heapq.heappush(self.heap, (when, self.seq, name, action))
            self.seq += 1
            self.cond.notify()

    def record(self, name: str, seconds: float, good: bool, note: str = "") -> None:
        with self.lock:
            self.results.setdefault(name, []).append(seconds)
            self.errors[name] = self.errors.get(name, 0) + (not good)
            if not good and len(self.error_notes) < 20:
                self.error_notes.append(f"{name}: {note}")

    def _run(self, due: float, name: str, action) -> None:
        lag = time.perf_counter() - due
        with self.lock:
            self.lags.append(lag)
        try:
            good, note = action(due)
        except (OSError, ConnectionError, LoadError, ValueError, KeyError) as exc:
            good, note = False, repr(exc)
        if name:
            self.record(name, time.perf_counter() - due, good, note)

    def run(self, until: float) -> None:
        """Dispatch the scheduled events as they fall due (none after ``until``, perf_counter
        time); then wait for them to finish (a PDF download polls inside its event)."""
        futures = []
        while True:
            with self.cond:
                now = time.perf_counter()
                if now >= until or not self.heap:  # every event is scheduled before run()
                    break
                if self.heap[0][0] > now:
                    self.cond.wait(timeout=max(0.0, min(self.heap[0][0] - now, 0.05, until - now)))
                    continue
                when, _, name, action = heapq.heappop(self.heap)
            futures.append(self.pool.submit(self._run, when, name, action))
        for f in futures:
            f.result()
        self.pool.shutdown(wait=True)
