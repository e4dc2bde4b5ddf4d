"""The load benchmark (issues #16, #25): what users wait for, against the stack's own ceiling.

For each N (``--sizes``, default 100 500 2000):
1. builds a fresh instance with N complete submissions (benchmarks/load_data.py) in a temporary
   folder (SQLite; ``--database-url`` for an empty PostgreSQL database, wiped at each N);
2. counts the SQL statements of every page (benchmarks/load_sql.py, the Flask test client);
3. serves the app as production does: gunicorn with production's config file
   (``-c python:wizard.ops.gunicorn_conf``: threaded workers, WEB_CONCURRENCY processes ×
   WIZARD_THREADS threads) and one PDF render consumer (``flask render-worker``), configured
   through the environment; beside it a bare Flask route served by the same gunicorn config
   (benchmarks/load_bare.py).  ``--server sync`` serves both with 2 sync workers instead (the
   set-up of the runs before issue #25's record).  Each page worker's memory is read after its
   first requests and at the end;
4. drives each operation alone for a fixed time (closed loop, ``--concurrency`` users):
   applicants' task list, every step, autosave, save + redirect, review; a county reviewer's
   queue and a report; the administrator's filtered list, dashboard, a submission page and the
   round comparison; the bare route before and after (the ceiling is the higher of the two,
   so the ratios are conservative);
5. at the largest N, the open-loop deadline-day scenario (issue #25): 500 applicants each opening
   a page every 10 s and autosaving every 20 s, 5 county reviewers and 2 administrators each
   opening a page every 10 s, one PDF requested every 5 s, for 120 s; p99 of every page and save,
   errors, the client's send lag and CPU share, and "nothing lost" (every acknowledged autosave
   is in the database: benchmarks/load_check.py).

Prints the tables (benchmarks/table.py, the same markdown docs/benchmarks.md quotes) and writes
the JSON to benchmarks/results/<timestamp>.json (``--output``).
Run: ``python benchmarks/load.py`` (``--quick`` for a short run).  See docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from load_check import check_saves
from load_client import Client, LoadError, OpenLoop, User, autosave, closed_loop, ok, percentile, save, summarise
from load_data import build
from load_wrk import WRK, wrk_get
from table import markdown

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
EDIT_STEP = "indicators"  # autosave and save: 经济指标, the step with the most single inputs
STEPS = ["basic", "indicators", "innovation", "green", "quality", "park", "org", "plan", "declaration", "evidence"]
#: issue #25: every step, the review page, the county's and the administrator's report page, and
#: (at the largest N) the administrator's list and dashboard at least 0.06 of the bare route; the
#: county queue keeps issue #16's 0.05
TARGET_STEP_RATIO, TARGET_LIST_RATIO, TARGET_AUTOSAVE_X, TARGET_OPEN_P99_MS = 0.06, 0.06, 5.0, 150.0
TARGET_QUEUE_RATIO = 0.05
REPORT_PAGES = ("review page", "county report page", "admin submission page")


# --- processes ----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def production_settings(env: dict) -> dict:
    """What production's gunicorn config file resolves to in ``env`` (it reads the environment
    when imported): worker class, processes, threads, keep-alive, connections per worker."""
    code = ("import json, wizard.ops.gunicorn_conf as c; print(json.dumps({k: getattr(c, k) for k in "
            "('worker_class', 'workers', 'threads', 'keepalive', 'worker_connections', 'timeout')}))")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True,
                         cwd=ROOT)
    if out.returncode:
        raise RuntimeError("wizard/ops/gunicorn_conf.py could not be read:\n" + out.stderr[-1000:])
    return {"config": "wizard/ops/gunicorn_conf.py", **json.loads(out.stdout)}


class Server:
    """gunicorn on 127.0.0.1; its log in the instance folder.  ``mode`` "production": production's
    config file (wizard/ops/gunicorn_conf.py; ``workers`` sets WEB_CONCURRENCY, else the file's
    default); "sync": 2 sync workers (``workers`` to change), the set-up of the earlier runs."""

    def __init__(self, app_spec: str, chdir: str, env: dict, log_path: str, mode: str = "production",
                 workers: int | None = None):
        self.port = free_port()
        self.log = open(log_path, "ab")
        bind = ["--bind", f"127.0.0.1:{self.port}", "--chdir", chdir, "--log-level", "warning"]
        env = dict(env)
        if mode == "production":
            if workers:
                env["WEB_CONCURRENCY"] = str(workers)
            self.settings = production_settings(env)
            cmd = [sys.executable, "-m", "gunicorn", "-c", "python:wizard.ops.gunicorn_conf"] + bind + [app_spec]
        else:
            self.settings = {"config": "command line", "worker_class": "sync", "workers": workers or 2, "threads": 1}
            cmd = ([sys.executable, "-m", "gunicorn", "--workers", str(workers or 2), "--worker-class", "sync",
                    "--timeout", "120"] + bind + [app_spec])
        self.expected = int(self.settings["workers"])
        self.proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}); see {self.log.name}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"GET /login HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                    if s.recv(12).startswith(b"HTTP/1."):
                        if len(self.workers()) >= self.expected:
                            return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not start; see {self.log.name}")

    def workers(self) -> list[int]:
        return children(self.proc.pid)

    def warm(self, path: str = "/login", rounds: int = 3) -> None:
        """The first requests of every worker: rounds of as many simultaneous requests as there
        are threads in all (the kernel hands the connections to whichever worker accepts)."""
        width = self.expected * int(self.settings.get("threads") or 1)

        def one(_):
            client = Client(self.port)
            try:
                return client.get(path).status
            finally:
                client.close()
        with ThreadPoolExecutor(max_workers=min(width, 32)) as pool:
            for _ in range(rounds):
                list(pool.map(one, range(min(width, 32))))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Consumer:
    """The PDF render consumer, started as production starts it (``flask render-worker``, the
    app's environment and instance folder): page workers only enqueue renders and serve files."""

    def __init__(self, app_spec: str, env: dict, log_path: str):
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", app_spec, "render-worker"],
                                     env={**os.environ, **env}, cwd=ROOT, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        time.sleep(0.5)
        if self.proc.poll() is not None:
            raise RuntimeError(f"the render consumer exited ({self.proc.returncode}); see {self.log.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the render under way finishes first
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def _proc_table() -> dict:
    """pid -> parent pid, for every process."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as fh:
                    table[int(name)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    return table


def children(pid: int, table: dict | None = None) -> list[int]:
    return [p for p, parent in (table or _proc_table()).items() if parent == pid]


def descendants(pid: int, table: dict | None = None) -> list[int]:
    table, out, todo = table or _proc_table(), [], [pid]
    while todo:
        parent = todo.pop()
        kids = [p for p, pp in table.items() if pp == parent]
        out += kids
        todo += kids
    return out


def status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (from /proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def settle(roots: list[int], idle_cores: float = 0.05, window: float = 0.5, timeout: float = 60.0) -> float:
    """Wait until the processes under ``roots`` (the server, the render consumer) are idle: their
    CPU over ``window`` below ``idle_cores``.  A render consumer warms its render processes after
    it starts; measured meanwhile, the first operations shared the cores with that start-up.
    Returns the seconds waited (``timeout`` at most)."""
    start = time.perf_counter()

    def used() -> float:
        table = _proc_table()
        return sum(cpu_seconds(p) for root in roots for p in [root] + descendants(root, table))
    before = used()
    while time.perf_counter() - start < timeout:
        time.sleep(window)
        now = used()
        if now - before < idle_cores * window:
            break
        before = now
    return time.perf_counter() - start


def worker_memory(master: int) -> list[dict]:
    """Each gunicorn worker now: pid, resident memory (MB), CPU seconds used so far."""
    return [{"pid": p, "rss_mb": round(status_kb(p, "VmRSS") / 1024, 1), "cpu_s": round(cpu_seconds(p), 2)}
            for p in sorted(children(master))]


class RssSampler(threading.Thread):
    """Peak resident memory of the server's processes while an operation runs (sampled every
    0.2 s), split into the gunicorn workers and the other processes: below the master (none
    with production's config) and the render consumer with its render processes; VmHWM (the
    kernel's own peak) of the workers when read at the end."""

    def __init__(self, master: int, others: tuple = ()):
        super().__init__(daemon=True)
        self.master, self.roots, self.stop_flag = master, others, threading.Event()
        self.peak_workers = self.peak_others = 0
        self.lock = threading.Lock()

    def reset(self) -> tuple[int, int]:
        with self.lock:
            out = (self.peak_workers, self.peak_others)
            self.peak_workers = self.peak_others = 0
        return out

    def other_pids(self, table: dict | None = None) -> list[int]:
        table = table or _proc_table()
        workers = set(children(self.master, table))
        out = [p for p in descendants(self.master, table) if p not in workers]
        for root in self.roots:
            out += [root] + descendants(root, table)
        return out

    def run(self):
        while not self.stop_flag.wait(0.2):
            table = _proc_table()  # one read of /proc per sample: the sampler shares the client's CPU
            workers = children(self.master, table)
            others = self.other_pids(table)
            with self.lock:
                for pid in workers:
                    self.peak_workers = max(self.peak_workers, status_kb(pid, "VmRSS"))
                for pid in others:
                    self.peak_others = max(self.peak_others, status_kb(pid, "VmRSS"))

    def hwm(self) -> dict:
        return {"workers_mb": max((status_kb(p, "VmHWM") for p in children(self.master)), default=0) / 1024,
                "others_mb": max((status_kb(p, "VmHWM") for p in self.other_pids()), default=0) / 1024}


# --- the plan: operations -----------------------------------------------------------------

def plan(info: dict) -> list[dict]:
    """Every operation: name, who, what (get/autosave/save), the path (ids rotate per request)."""
    apps = info["applicants"]
    county = max(info["counties"], key=lambda c: sum(a["county"] == c for a in apps))
    in_county = [a["submission_id"] for a in apps if a["county"] == county]
    final = [a["submission_id"] for a in apps if a["state"] in ("final_submitted", "final_approved", "final",
                                                                  "awarded", "not_awarded")]
    ids = [a["submission_id"] for a in apps]
    ops = [{"name": "bare route (ceiling)", "role": "bare", "kind": "get", "paths": ["/"]},
           {"name": "applicant task list", "role": "applicant", "kind": "get", "paths": ["/applicant/"]}]
    ops += [{"name": f"step {s}", "role": "applicant", "kind": "get", "paths": [f"/applicant/step/{s}"],
             "step": True} for s in STEPS]
    ops += [
        {"name": "review page", "role": "applicant", "kind": "get", "paths": ["/applicant/review"], "step": True},
        {"name": f"autosave POST ({EDIT_STEP})", "role": "applicant", "kind": "autosave",
         "paths": [f"/applicant/step/{EDIT_STEP}"]},
        {"name": f"save POST + redirect ({EDIT_STEP})", "role": "applicant", "kind": "save",
         "paths": [f"/applicant/step/{EDIT_STEP}"]},
        {"name": "county queue", "role": "county", "kind": "get", "paths": ["/county/"], "list": True},
        {"name": "county report page", "role": "county", "kind": "get",
         "paths": [f"/county/submissions/{i}" for i in in_county]},
        {"name": "admin list (filtered, page 2)", "role": "admin", "kind": "get", "list": True,
         "paths": ["/admin/submissions?category=advanced&sort=updated&page=2"]},
        {"name": "admin dashboard", "role": "admin", "kind": "get", "paths": ["/admin/"], "list": True},
        {"name": "admin submission page", "role": "admin", "kind": "get",
         "paths": [f"/admin/submissions/{i}" for i in ids[:50]]},
        {"name": "round comparison", "role": "admin", "kind": "get",
         "paths": [f"/admin/submissions/{i}/compare" for i in final[:50] or ids[:1]]},
    ]
    if info.get("expert_assignments"):  # the expert's scoring page, measured like the steps (#21)
        ops.append({"name": "expert scoring page", "role": "expert", "kind": "get", "step": True,
                    "paths": [f"/expert/reviews/{i}" for i in info["expert_assignments"]]})
    return ops, county


# --- one size -----------------------------------------------------------------------------

class Run:
    """One N: the instance, the servers, the logged-in users, the measurements."""

    def __init__(self, args, n: int, workdir: str, bare):
        self.args, self.n, self.bare = args, n, bare
        self.instance = os.path.join(workdir, f"n{n}")
        t = time.perf_counter()
        say(f"N={n}: building the instance …")
        self.info = build(self.instance, n, args.database_url,
                          log=(lambda m: say(m)) if n >= 1000 else None)
        self.build_seconds = time.perf_counter() - t
        say(f"N={n}: built in {self.build_seconds:.0f} s")
        self.ops, self.county = plan(self.info)
        self.drafts = [a["username"] for a in self.info["applicants"] if a["state"] == "draft"]

    def sql_counts(self) -> dict:
        users = {"applicant": (self.drafts[-1], "/applicant/"), "county": (self.county, "/county/"),
                 "admin": (self.info["admin"], "/admin/"), "expert": (self.info.get("expert"), "/expert/")}
        plan_ = [{"name": o["name"], "role": o["role"], "kind": o["kind"], "path": o["paths"][0]}
                 for o in self.ops if o["role"] != "bare"]
        arg = json.dumps({"database_url": self.args.database_url, "plan": plan_, "users": users,
                          "password": self.info["password"]})
        out = subprocess.run([sys.executable, os.path.join(HERE, "load_sql.py"), self.instance, arg],
                             capture_output=True, text=True, cwd=HERE)
        if out.returncode:
            say("SQL count failed:\n" + out.stderr[-2000:])
            return {}
        return json.loads(out.stdout.strip().splitlines()[-1])

    def start(self) -> None:
        """gunicorn and the render consumer; each page worker's memory after its first requests."""
        env = {"SECRET_KEY": self.info["secret_key"], "DATABASE_URL": self.info["database_url"],
               "WIZARD_UPLOAD_FOLDER": self.info["upload_folder"], "WIZARD_ENV": "production"}
        spec = "wizard:create_app(%r)" % ({"INSTANCE_PATH": self.instance},)
        self.consumer = Consumer(spec, env, os.path.join(self.instance, "render-worker.log"))
        self.app = Server(spec, ROOT, env, os.path.join(self.instance, "gunicorn.log"), self.args.server,
                          self.args.workers)
        self.app.warm()
        self.settled_seconds = settle([self.app.proc.pid, self.consumer.proc.pid])
        self.memory_start = worker_memory(self.app.proc.pid)
        self.rss = RssSampler(self.app.proc.pid, (self.consumer.proc.pid,))
        self.rss.start()

    def stop(self) -> None:
        if getattr(self, "rss", None):
            self.rss.stop_flag.set()
        if getattr(self, "app", None):
            self.app.stop()
        if getattr(self, "consumer", None):
            self.consumer.stop()

    def login(self, username: str, home: str) -> User:
        return User.login(self.app.port, username, self.info["password"], home)

    def applicants(self, count: int) -> list:
        """``count`` draft applicants logged in, each with the 经济指标 form as loaded (4 at a time)."""
        def one(username):
            u = self.login(username, "/applicant/")
            u.load_step(EDIT_STEP)
            u.client.close()
            return u
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(one, self.drafts[:count]))

    def users(self, role: str, count: int) -> list:
        if role == "applicant":
            return self.applicants(count)
        username, home = {"county": (self.county, "/county/"), "expert": (self.info.get("expert"), "/expert/")}.get(
            role, (self.info["admin"], "/admin/"))
        one = self.login(username, home)
        return [User(one.client.copy(), one.username, one.token) for _ in range(count)]

    def action(self, op: dict, user) -> callable:
        paths = op["paths"]
        counter = iter(range(10 ** 9))
        if op["kind"] == "autosave":
            return lambda: autosave(user, EDIT_STEP)
        if op["kind"] == "save":
            return lambda: save(user, EDIT_STEP)
        client = user.client if user is not None else None

        def get():
            return ok(client.get(paths[next(counter) % len(paths)]))
        return get

    def measure(self, op: dict, users: dict) -> dict:
        """One operation alone for the configured time, after a short warm-up.  Pages read with GET
        (and the bare route) are driven by wrk when it is installed (load_wrk.py), POSTs by the
        Python client."""
        c = self.args.concurrency
        if WRK and op["kind"] == "get" and not self.args.python_client:
            port = self.bare.server.port if op["role"] == "bare" else self.app.port
            cookies = {} if op["role"] == "bare" else users[op["role"]][0].client.cookies
            wrk_get(port, op["paths"], cookies, self.args.warmup, c)
            self.rss.reset()
            workers = self.app.workers() if op["role"] != "bare" else []
            used = [cpu_seconds(w) for w in workers]
            result = wrk_get(port, op["paths"], cookies, self.args.seconds, c)
            if workers:  # how the connections spread: each page worker's CPU seconds during the run
                result["worker_cpu"] = [round(cpu_seconds(w) - u, 2) for w, u in zip(workers, used)]
            if op["role"] != "bare":
                workers_kb, others_kb = self.rss.reset()
                result["peak_worker_rss_mb"] = workers_kb / 1024
                result["peak_other_rss_mb"] = others_kb / 1024
            return result
        if op["role"] == "bare":
            acts = [self.bare_action() for _ in range(c)]
        else:
            acts = [self.action(op, u) for u in users[op["role"]][:c]]
        closed_loop(acts, self.args.warmup)
        self.rss.reset()
        result = closed_loop(acts, self.args.seconds)
        if op["role"] != "bare":
            workers_kb, others_kb = self.rss.reset()
            result["peak_worker_rss_mb"] = workers_kb / 1024
            result["peak_other_rss_mb"] = others_kb / 1024
        return result

    def bare_action(self):
        client = self.bare.client()
        return lambda: ok(client.get("/"))


class Bare:
    """The bare Flask route under gunicorn, started once for the whole run."""

    def __init__(self, workdir: str, mode: str = "production", workers: int | None = None):
        self.server = Server("load_bare:app", HERE, {}, os.path.join(workdir, "bare.log"), mode, workers)

    def client(self):
        return Client(self.server.port)


def say(message: str) -> None:
    print(message, flush=True)


def run_size(args, n: int, workdir: str, bare: Bare, with_pdf: bool) -> dict:
    run = Run(args, n, workdir, bare)
    try:
        results, bare_rps, bare_p50 = {}, None, None
        if not args.open_loop_only:
            sql = run.sql_counts()
        run.start()
        if not args.open_loop_only:
            users = {role: run.users(role, args.concurrency) for role in ("applicant", "county", "admin", "expert")}
            bare_op = run.ops[0]
            results["bare_before"] = run.measure(bare_op, users)
            for op in run.ops[1:]:
                say(f"  N={n}: {op['name']} …")
                results[op["name"]] = run.measure(op, users)
                results[op["name"]]["sql"] = sql.get(op["name"])
            results["bare_after"] = run.measure(bare_op, users)
            bare_rps = max(results["bare_before"]["rps"], results["bare_after"]["rps"])
            bare_p50 = min((r["p50_ms"] for r in (results["bare_before"], results["bare_after"])
                            if r["p50_ms"] is not None), default=None)
            for name, r in results.items():
                r["ratio"] = r["rps"] / bare_rps if bare_rps else None
        out = {"n": n, "build_seconds": run.build_seconds, "bare_rps": bare_rps, "bare_p50_ms": bare_p50,
               "operations": results, "county_reviewer": run.county, "answers_bytes": run.info["answers_bytes"],
               "server": run.app.settings, "settled_seconds": round(run.settled_seconds, 1)}
        if with_pdf:
            out["open_loop"] = open_loop(run, args)
        out["rss_hwm"] = run.rss.hwm()
        out["worker_memory"] = {"start": run.memory_start, "end": worker_memory(run.app.proc.pid)}
        return out
    finally:
        run.stop()
        if not args.keep:
            shutil.rmtree(run.instance, ignore_errors=True)


# --- the open-loop scenario ---------------------------------------------------------------

PAGES = ["/applicant/", "/applicant/review"] + [f"/applicant/step/{s}" for s in STEPS]
ADMIN_LIST = "/admin/submissions?category=advanced&sort=updated&page=2"
AUTOSAVE = "autosave POST"


def page_name(path: str) -> str:
    """The operation a GET is reported under in the open loop (the closed loop's names)."""
    if path == "/applicant/":
        return "applicant task list"
    if path == "/applicant/review":
        return "review page"
    if path.startswith("/applicant/step/"):
        return "step " + path.rsplit("/", 1)[1]
    if path == "/county/":
        return "county queue"
    if path.startswith("/county/submissions/"):
        return "county report page"
    if path == "/admin/":
        return "admin dashboard"
    if path.startswith("/admin/submissions?"):
        return "admin list (filtered, page 2)"
    if path.endswith("/compare"):
        return "round comparison"
    if path.startswith("/admin/submissions/"):
        return "admin submission page"
    return path


def get_once(user: User, path: str):
    """One page, as a browser tab opening it (a connection of its own, closed after)."""
    client = user.client.copy()
    try:
        r = client.get(path)
    finally:
        client.close()
    return ok(r), f"{path}: {r.status}"


def pdf_download(loop: OpenLoop, user: User, path: str, deadline: float):
    """A browser downloading a PDF: while the server answers a page that says it is being made
    (Refresh header or meta refresh), wait as it says and ask again."""

    def act(due):
        start = due
        client = user.client.copy()
        polls = 0
        try:
            while True:
                t = time.perf_counter()
                r = client.get(path)
                kind = r.header("content-type")
                if r.status == 200 and kind.startswith("application/pdf"):
                    loop.record("PDF request (served)", time.perf_counter() - (t if polls else due), True)
                    loop.samples.append(("pdf_ready", time.perf_counter() - start, len(r.body)))
                    return True, ""
                refresh = r.header("refresh") or (re.search(r'http-equiv="refresh"[^>]+content="(\d+)', r.text, re.I)
                                                  or [None, None])[1]
                if r.status >= 400 or not refresh:
                    loop.record("PDF request (served)", time.perf_counter() - t, False, f"{path}: {r.status} {kind}")
                    return False, f"{path}: {r.status}"
                loop.record("PDF 正在生成 page", time.perf_counter() - (t if polls else due), True)
                polls += 1
                wait = float(str(refresh).split(";")[0] or 1)
                if time.perf_counter() + wait > deadline:
                    loop.samples.append(("pdf_unfinished", time.perf_counter() - start, 0))
                    return False, f"{path}: not ready in time"
                time.sleep(wait)
        finally:
            client.close()
    return act


def readers(run: Run, args, rng: random.Random) -> list[tuple]:
    """The open loop's readers: (user, the pages it opens in turn, the reports whose PDF it may
    ask for: submitted ones first, as a draft's PDF is stale at its applicant's next autosave).  ``--reviewers`` county reviewers (the counties with the most submissions: the
    queue and their reports) and ``--admins`` administrators (one account, a session each: the
    dashboard, the filtered list, a submission page, a round comparison)."""
    apps = run.info["applicants"]
    submitted = {a["submission_id"] for a in apps if a["state"] != "draft"}

    def for_pdf(ids):
        return [i for i in ids if i in submitted] + [i for i in ids if i not in submitted]
    counts = {}
    for a in apps:
        counts[a["county"]] = counts.get(a["county"], 0) + 1
    out = []
    for county in sorted(counts, key=lambda c: (-counts[c], c))[:args.reviewers]:
        user = run.login(county, "/county/")
        user.client.close()
        ids = [a["submission_id"] for a in apps if a["county"] == county]
        pages = [p for i in ids for p in ("/county/", f"/county/submissions/{i}")]
        out.append((user, pages, for_pdf(ids)))
    ids = [a["submission_id"] for a in apps]
    final = [a["submission_id"] for a in apps if a["state"] in ("final_submitted", "final_approved", "final",
                                                                  "awarded", "not_awarded")] or ids[:1]
    rng.shuffle(ids)
    for k in range(args.admins):
        user = run.login(run.info["admin"], "/admin/")
        user.client.close()
        pages = []
        for j in range(50):
            pages += ["/admin/", ADMIN_LIST, f"/admin/submissions/{ids[(j + 7 * k) % len(ids)]}",
                      f"/admin/submissions/{final[(j + 7 * k) % len(final)]}/compare"]
        out.append((user, pages, for_pdf(ids)))
    return out


def open_loop(run: Run, args) -> dict:
    """The deadline-day scenario of issue #25: ``--applicants`` applicants (each: a page every
    10 s, an autosave every 20 s, each autosave typing a new value), ``--reviewers`` county
    reviewers and ``--admins`` administrators each opening a page every 10 s, one PDF requested
    every ``--pdf-every`` s (the readers in turn, each a different report), for
    ``--open-seconds``.  Latency from the moment each request was due; p99 of every page and the
    autosave, errors, the PDFs, the client's send lag and CPU share, peak RSS, and whether every
    acknowledged autosave is in the database."""
    seconds = args.open_seconds
    count = min(args.applicants, len(run.drafts))
    if count < args.applicants:
        say(f"  N={run.n}: only {count} draft applicants for the {args.applicants} asked (a quarter of N are drafts)")
    say(f"  N={run.n}: open loop: logging in {count} applicants, {args.reviewers} reviewers, {args.admins} "
        f"administrators …")
    applicants = run.applicants(count)
    rng = random.Random(25)
    reading = readers(run, args, rng)
    loop = OpenLoop()
    saves: list = []
    t0 = time.perf_counter() + 2.0
    end = t0 + seconds
    for k, user in enumerate(applicants):
        page_phase, save_phase = rng.uniform(0, 10), rng.uniform(0, 20)
        for j in range(int(seconds // 10) + 1):
            if t0 + page_phase + 10 * j < end:
                path = PAGES[(k + j) % len(PAGES)]
                loop.at(t0 + page_phase + 10 * j, page_name(path), lambda due, u=user, p=path: get_once(u, p))
        for j in range(int(seconds // 20) + 1):
            if t0 + save_phase + 20 * j < end:
                value = str(500001 + j)  # a new figure each time (the stored one is 100 + i)
                loop.at(t0 + save_phase + 20 * j, AUTOSAVE,
                        lambda due, u=user, v=value: (autosave(u, EDIT_STEP, v, saves), "autosave"))
    for k, (user, pages, _) in enumerate(reading):
        phase = rng.uniform(0, 10)
        for j in range(int(seconds // 10) + 1):
            if t0 + phase + 10 * j < end:
                path = pages[j % len(pages)]
                loop.at(t0 + phase + 10 * j, page_name(path), lambda due, u=user, p=path: get_once(u, p))
    asked, pdfs = set(), 0
    j = 0
    while t0 + 1.0 + args.pdf_every * j < end and reading:
        user, _, ids = reading[j % len(reading)]
        sid = next((i for i in ids if i not in asked), None)
        if sid is not None:
            asked.add(sid)
            loop.at(t0 + 1.0 + args.pdf_every * j, "", pdf_download(loop, user, f"/submissions/{sid}/report.pdf",
                                                                    end + 60))
            pdfs += 1
        j += 1
    cpu = {}  # the client's CPU seconds when the scenario starts and ends (the PDFs' tail left out)

    def mark(key):
        def act(due):
            cpu[key] = (time.process_time(), time.perf_counter())
            return True, ""
        return act
    loop.at(t0, "", mark("start"))
    loop.at(end, "", mark("end"))
    run.rss.reset()
    say(f"  N={run.n}: open loop for {seconds:.0f} s …")
    loop.run(end + 60)
    client_cpu = (cpu["end"][0] - cpu["start"][0]) / (cpu["end"][1] - cpu["start"][1])
    workers_kb, others_kb = run.rss.reset()
    ops = {name: summarise(lat, loop.errors.get(name, 0), seconds) for name, lat in loop.results.items()}
    ready = sorted(s[1] for s in loop.samples if s[0] == "pdf_ready")
    lags = sorted(loop.lags)
    say(f"  N={run.n}: checking that every acknowledged autosave is in the database …")
    lost = check_saves(run.instance, saves, args.database_url)
    return {"seconds": seconds, "applicants": count, "reviewers": args.reviewers, "admins": args.admins,
            "pdf_every_s": args.pdf_every, "pdfs_asked": pdfs, "operations": ops,
            "pdf_ready_s": ready, "pdf_unfinished": sum(s[0] == "pdf_unfinished" for s in loop.samples),
            "errors": loop.error_notes, "peak_worker_rss_mb": workers_kb / 1024,
            "peak_other_rss_mb": others_kb / 1024, "client_cpu": client_cpu,
            "send_lag_ms": {"events": len(lags), "p50": percentile(lags, 0.5) * 1000,
                            "p99": percentile(lags, 0.99) * 1000, "max": (lags[-1] * 1000) if lags else None},
            "saves_check": lost}


# --- the verdicts ------------------------------------------------------------------------

def verdicts(sizes: list) -> list[str]:
    """Each target of issues #16 and #25 against the figures, met or not."""
    out = []
    last = sizes[-1]
    for s in sizes:
        ops = s["operations"]
        if not ops:
            continue
        pages = {k: v for k, v in ops.items() if k.startswith("step ") or k in REPORT_PAGES}
        worst = min(pages.items(), key=lambda kv: kv[1]["ratio"])
        out.append(f"N={s['n']}: worst step/report page ratio {worst[1]['ratio']:.3f} ({worst[0]}), target "
                   f"≥ {TARGET_STEP_RATIO}: {'met' if worst[1]['ratio'] >= TARGET_STEP_RATIO else 'NOT met'}")
        auto = next(v for k, v in ops.items() if k.startswith("autosave"))
        x = auto["p50_ms"] / s["bare_p50_ms"]
        out.append(f"N={s['n']}: autosave p50 {auto['p50_ms']:.1f} ms = {x:.1f}× bare p50 {s['bare_p50_ms']:.1f} ms, "
                   f"target ≤ {TARGET_AUTOSAVE_X:.0f}×: {'met' if x <= TARGET_AUTOSAVE_X else 'NOT met'}")
    for k, v in last["operations"].items():
        if not last["operations"]:
            break
        if k in ("county queue", "admin dashboard") or k.startswith("admin list"):
            sqls = [s["operations"][k].get("sql") for s in sizes]
            target = TARGET_QUEUE_RATIO if k == "county queue" else TARGET_LIST_RATIO
            out.append(f"N={last['n']}: {k} ratio {v['ratio']:.3f} (target ≥ {target}: "
                       f"{'met' if v['ratio'] >= target else 'NOT met'}); SQL statements by N {sqls} "
                       f"({'constant' if len(set(sqls)) == 1 else 'GROWS'})")
    ol = last.get("open_loop")
    if ol:
        pages = {k: v for k, v in ol["operations"].items() if "PDF" not in k}
        worst = max(pages.items(), key=lambda kv: kv[1]["p99_ms"], default=(None, None))
        errors = sum(v["errors"] for v in ol["operations"].values())
        if worst[0]:
            met = "met" if worst[1]["p99_ms"] < TARGET_OPEN_P99_MS and errors == 0 else "NOT met"
            out.append(f"open loop: worst p99 of a page or save {worst[1]['p99_ms']:.0f} ms ({worst[0]}), target < "
                       f"{TARGET_OPEN_P99_MS:.0f} ms with no errors: {met}; errors {errors}")
        check = ol["saves_check"]
        out.append(f"open loop: {check['acknowledged']} acknowledged autosaves compared with the database: "
                   + ("nothing lost" if check["nothing_lost"]
                      else f"saves LOST for {check['lost']} applicants (NOT met)"))
        lag, cpu = ol["send_lag_ms"], ol["client_cpu"]
        kept_up = lag["p99"] < 0.1 * TARGET_OPEN_P99_MS and cpu < 0.7
        out.append(f"open loop: the client sent requests {lag['p99']:.1f} ms after they were due (p99; max "
                   f"{fmt(lag['max'], '.0f')} ms) using {cpu:.2f} cores: "
                   + ("not the bottleneck" if kept_up else "it may be the bottleneck (NOT met)"))
    return out


def fmt(value, spec: str = ".0f") -> str:
    if value is None or value != value:
        return "—"
    return format(value, spec)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 2000])
    parser.add_argument("--quick", action="store_true", help="N=100 only, short runs (about 2 minutes)")
    parser.add_argument("--database-url", help="an EMPTY PostgreSQL database (wiped at every N); default SQLite")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per operation")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=8, help="simultaneous users per operation")
    parser.add_argument("--server", choices=["production", "sync"], default="production",
                        help="production: gunicorn with wizard/ops/gunicorn_conf.py (threaded workers; the "
                             "default); sync: 2 sync workers (the earlier runs' set-up)")
    parser.add_argument("--workers", type=int, help="gunicorn worker processes (production: sets WEB_CONCURRENCY; "
                                                    "default: the config's own)")
    parser.add_argument("--applicants", type=int, default=500, help="applicants in the open loop (at most N/4: drafts)")
    parser.add_argument("--reviewers", type=int, default=5, help="county reviewers reading in the open loop")
    parser.add_argument("--admins", type=int, default=2, help="administrators reading in the open loop")
    parser.add_argument("--pdf-every", type=float, default=5.0, help="seconds between two PDF requests (open loop)")
    parser.add_argument("--open-seconds", "--pdf-seconds", dest="open_seconds", type=float, default=120.0,
                        help="length of the open loop")
    parser.add_argument("--no-open-loop", action="store_true")
    parser.add_argument("--open-loop-only", action="store_true",
                        help="the open loop alone (at the largest N), without the operations one by one")
    parser.add_argument("--python-client", action="store_true",
                        help="drive GET pages with the Python client instead of wrk (the old generator)")
    parser.add_argument("--keep", action="store_true", help="keep the instances (in the printed folder)")
    parser.add_argument("--output", help="JSON file (default benchmarks/results/<timestamp>.json)")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = [100] if args.sizes == [100, 500, 2000] else args.sizes
        args.seconds, args.warmup, args.open_seconds = 1.5, 0.5, 20.0
    workdir = tempfile.mkdtemp(prefix="wizard-load-")
    say(f"load benchmark: sizes {args.sizes}, {args.seconds:.1f} s per operation, {args.concurrency} users; "
        f"instances in {workdir}")
    gets = "wrk (GET pages and the bare route)" if WRK and not args.python_client else "Python (every request)"
    say(f"load generator: {gets}, POSTs and the open loop in Python; on the same {os.cpu_count()} cores "
        f"as the server (client_cpu in the JSON: the generator's CPU share)")
    bare = Bare(workdir, args.server, args.workers)
    say(f"server: {bare.server.settings}")
    sizes = []
    try:
        for n in args.sizes:
            last = n == args.sizes[-1]
            if args.open_loop_only and not last:
                continue
            sizes.append(run_size(args, n, workdir, bare, with_pdf=not args.no_open_loop and last))
    finally:
        bare.server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    report = {"when": datetime.now().isoformat(timespec="seconds"), "host": platform.node(),
              "cpus": os.cpu_count(), "python": platform.python_version(), "args": vars(args), "sizes": sizes,
              "note": f"load generator: {gets}; POSTs and the open loop: Python threads; the same machine "
                      f"(same cores) as the server", "bare_server": bare.server.settings}
    report["verdicts"] = verdicts(sizes)
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.abspath(args.output or os.path.join(RESULTS, datetime.now().strftime("%Y%m%d-%H%M%S") + ".json"))
    with open(path, "w") as fh:
        json.dump(report, fh, ensure_ascii=False, indent=1)
    say("")
    say(markdown(report, os.path.relpath(path, ROOT)))
    say(f"written to {os.path.relpath(path, ROOT)}; the tables again: python benchmarks/table.py "
        f"{os.path.relpath(path, ROOT)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except LoadError as exc:
        say(f"load benchmark failed: {exc}")
        sys.exit(1)
