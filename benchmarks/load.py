"""The load benchmark (issue #16): what users wait for, against the stack's own ceiling.

For each N (``--sizes``, default 100 500 2000):
1. builds a fresh instance with N complete submissions (benchmarks/load_data.py) in a temporary
   folder (SQLite; ``--database-url`` for an empty PostgreSQL database, wiped at each N);
2. counts the SQL statements of every page (benchmarks/load_sql.py, the Flask test client);
3. starts the app under gunicorn on 127.0.0.1 (2 sync workers, configured through the
   environment), beside a bare Flask route served the same way (benchmarks/load_bare.py);
4. drives each operation alone for a fixed time (closed loop, ``--concurrency`` users):
   applicants' task list, every step, autosave, save + redirect, review; a county reviewer's
   queue and a report; the administrator's filtered list, dashboard, a submission page and the
   round comparison; the bare route before and after (the ceiling is the higher of the two,
   so the ratios are conservative);
5. at the largest N, the open-loop scenario: 200 applicants each opening a page every 10 s and
   saving every 20 s, a reviewer and an administrator each downloading the PDF of a different
   report every 10 s, for 60 s (``--pdf-seconds``).

Prints one table (N side by side) and writes it as JSON to benchmarks/results/<timestamp>.json.
The load generator is Python, on the same 2 cores as the server (say so when reading ratios).
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
from datetime import datetime

from load_client import Client, LoadError, OpenLoop, User, autosave, closed_loop, ok, save, summarise
from load_data import build
from load_wrk import WRK, wrk_get

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
EDIT_STEP = "indicators"  # autosave and save: 经济指标, the step with the most single inputs
STEPS = ["basic", "indicators", "innovation", "green", "quality", "park", "org", "plan", "declaration", "evidence"]
TARGET_STEP_RATIO, TARGET_LIST_RATIO, TARGET_AUTOSAVE_X, TARGET_OPEN_P99_MS = 0.06, 0.05, 5.0, 150.0


# --- processes ----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn with 2 sync workers on 127.0.0.1; its log in the instance folder."""

    def __init__(self, app_spec: str, chdir: str, env: dict, log_path: str, workers: int = 2):
        self.port = free_port()
        self.log = open(log_path, "ab")
        cmd = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "sync",
               "--bind", f"127.0.0.1:{self.port}", "--chdir", chdir, "--timeout", "120", "--log-level", "warning",
               app_spec]
        self.proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}); see {self.log.name}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"GET /login HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                    if s.recv(12).startswith(b"HTTP/1."):
                        if len(self.workers()) >= 2:
                            return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not start; see {self.log.name}")

    def workers(self) -> list[int]:
        return children(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
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


def children(pid: int) -> list[int]:
    return [p for p, parent in _proc_table().items() if parent == pid]


def descendants(pid: int) -> list[int]:
    table, out, todo = _proc_table(), [], [pid]
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


class RssSampler(threading.Thread):
    """Peak resident memory of the server's processes while an operation runs (sampled every
    0.2 s), split into the gunicorn workers and any other process below the master (a PDF
    rendering pool); VmHWM (the kernel's own peak) of the workers when read at the end."""

    def __init__(self, master: int):
        super().__init__(daemon=True)
        self.master, self.stop_flag = master, threading.Event()
        self.peak_workers = self.peak_others = 0
        self.lock = threading.Lock()

    def reset(self) -> tuple[int, int]:
        with self.lock:
            out = (self.peak_workers, self.peak_others)
            self.peak_workers = self.peak_others = 0
        return out

    def run(self):
        while not self.stop_flag.wait(0.2):
            workers = set(children(self.master))
            for pid in descendants(self.master):
                kb = status_kb(pid, "VmRSS")
                with self.lock:
                    if pid in workers:
                        self.peak_workers = max(self.peak_workers, kb)
                    else:
                        self.peak_others = max(self.peak_others, kb)

    def hwm(self) -> dict:
        return {"workers_mb": max((status_kb(p, "VmHWM") for p in children(self.master)), default=0) / 1024,
                "others_mb": max((status_kb(p, "VmHWM") for p in descendants(self.master)
                                  if p not in children(self.master)), default=0) / 1024}


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
        env = {"SECRET_KEY": self.info["secret_key"], "DATABASE_URL": self.info["database_url"],
               "WIZARD_UPLOAD_FOLDER": self.info["upload_folder"], "WIZARD_ENV": "production"}
        spec = "wizard:create_app(%r)" % ({"INSTANCE_PATH": self.instance},)
        self.app = Server(spec, ROOT, env, os.path.join(self.instance, "gunicorn.log"))
        self.rss = RssSampler(self.app.proc.pid)
        self.rss.start()

    def login(self, username: str, home: str) -> User:
        return User.login(self.app.port, username, self.info["password"], home)

    def users(self, role: str, count: int) -> list:
        if role == "applicant":
            users = [self.login(u, "/applicant/") for u in self.drafts[:count]]
            for u in users:
                u.load_step(EDIT_STEP)
                u.client.close()
            return users
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
            result = wrk_get(port, op["paths"], cookies, self.args.seconds, c)
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

    def __init__(self, workdir: str):
        self.server = Server("load_bare:app", HERE, {}, os.path.join(workdir, "bare.log"))

    def client(self):
        return Client(self.server.port)


def say(message: str) -> None:
    print(message, flush=True)


def run_size(args, n: int, workdir: str, bare: Bare, with_pdf: bool) -> dict:
    run = Run(args, n, workdir, bare)
    sql = run.sql_counts()
    run.start()
    try:
        users = {role: run.users(role, args.concurrency) for role in ("applicant", "county", "admin", "expert")}
        results = {}
        bare_op = run.ops[0]
        results["bare_before"] = run.measure(bare_op, users)
        for op in run.ops[1:]:
            say(f"  N={n}: {op['name']} …")
            results[op["name"]] = run.measure(op, users)
            results[op["name"]]["sql"] = sql.get(op["name"])
        results["bare_after"] = run.measure(bare_op, users)
        bare_rps = max(results["bare_before"]["rps"], results["bare_after"]["rps"])
        bare_p50 = min(results["bare_before"]["p50_ms"], results["bare_after"]["p50_ms"])
        for name, r in results.items():
            r["ratio"] = r["rps"] / bare_rps if bare_rps else None
        out = {"n": n, "build_seconds": run.build_seconds, "bare_rps": bare_rps, "bare_p50_ms": bare_p50,
               "operations": results, "county_reviewer": run.county, "answers_bytes": run.info["answers_bytes"]}
        if with_pdf:
            out["open_loop"] = open_loop(run, args)
        out["rss_hwm"] = run.rss.hwm()
        return out
    finally:
        run.rss.stop_flag.set()
        run.app.stop()
        if not args.keep:
            shutil.rmtree(run.instance, ignore_errors=True)


# --- the open-loop scenario ---------------------------------------------------------------

PAGES = ["/applicant/", "/applicant/review"] + [f"/applicant/step/{s}" for s in STEPS]


def pdf_download(loop: OpenLoop, user: User, path: str, deadline: float):
    """A browser downloading a PDF: while the server answers a page that says it is being made
    (Refresh header or meta refresh), wait as it says and ask again."""

    def act(due):
        start = due
        client = user.client.copy()
        polls = 0
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
    return act


def open_loop(run: Run, args) -> dict:
    """200 applicants (each: a page every 10 s, a save every 20 s: autosave and save + redirect
    in turn), a reviewer and an administrator each downloading a different report's PDF every
    10 s; p99 of every page operation, errors, the PDFs' latencies, peak RSS of every process."""
    count = min(args.applicants, len(run.drafts))
    say(f"  N={run.n}: open loop: logging in {count} applicants …")
    applicants = run.users("applicant", count)
    county = run.users("county", 1)[0]
    admin = run.users("admin", 1)[0]
    apps = run.info["applicants"]
    county_ids = [a["submission_id"] for a in apps if a["county"] == run.county]
    admin_ids = [a["submission_id"] for a in apps if a["submission_id"] not in county_ids]
    rng = random.Random(16)
    rng.shuffle(admin_ids)
    loop = OpenLoop()
    seconds = args.pdf_seconds
    t0 = time.perf_counter() + 1.0
    end = t0 + seconds
    for k, user in enumerate(applicants):
        page_phase, save_phase = rng.uniform(0, 10), rng.uniform(0, 20)
        for j in range(int(seconds // 10) + 1):
            if t0 + page_phase + 10 * j < end:
                path = PAGES[(k + j) % len(PAGES)]
                loop.at(t0 + page_phase + 10 * j, "applicant page GET",
                        lambda due, u=user, p=path: (ok(u.client.copy().get(p)), p))
        for j in range(int(seconds // 20) + 1):
            if t0 + save_phase + 20 * j < end:
                name, fn = (("autosave POST", autosave) if (k + j) % 2 == 0 else ("save POST + redirect", save))
                loop.at(t0 + save_phase + 20 * j, name, lambda due, u=user, f=fn: (f(u, EDIT_STEP), "save"))
    for who, ids, phase in ((county, county_ids, 2.0), (admin, admin_ids, 7.0)):
        for j in range(int(seconds // 10)):
            path = f"/submissions/{ids[j % len(ids)]}/report.pdf"
            loop.at(t0 + phase + 10 * j, "", pdf_download(loop, who, path, end + 60))
    run.rss.reset()
    say(f"  N={run.n}: open loop for {seconds:.0f} s …")
    loop.run(end + 60)
    workers_kb, others_kb = run.rss.reset()
    ops = {name: summarise(lat, loop.errors.get(name, 0), seconds) for name, lat in loop.results.items()}
    ready = sorted(s[1] for s in loop.samples if s[0] == "pdf_ready")
    return {"seconds": seconds, "applicants": count, "operations": ops,
            "pdf_ready_s": ready, "pdf_unfinished": sum(s[0] == "pdf_unfinished" for s in loop.samples),
            "errors": loop.error_notes, "peak_worker_rss_mb": workers_kb / 1024,
            "peak_other_rss_mb": others_kb / 1024}


# --- the table ----------------------------------------------------------------------------

def fmt(value, spec: str = ".0f") -> str:
    if value is None or value != value:
        return "—"
    return format(value, spec)


def table(sizes: list) -> str:
    names = [k for k in sizes[0]["operations"] if k not in ("bare_before", "bare_after")]
    names = ["bare_before", "bare_after"] + names
    head = f"{'operation':38}" + "".join(f"| N={s['n']:<5} {'req/s':>7} {'p50':>6} {'p99':>6} {'ratio':>6} {'SQL':>4} "
                                          for s in sizes) + "| RSS MB"
    lines = [head, "-" * len(head)]
    for name in names:
        row = f"{name[:38]:38}"
        rss = []
        for s in sizes:
            r = s["operations"].get(name, {})
            sql = fmt(r.get("sql"), "d") if r.get("sql") is not None else "—"
            row += (f"| {'':7} {fmt(r.get('rps')):>7} {fmt(r.get('p50_ms'), '.1f'):>6} "
                    f"{fmt(r.get('p99_ms'), '.1f'):>6} {fmt(r.get('ratio'), '.3f'):>6} {sql:>4} ")
            rss.append(r.get("peak_worker_rss_mb"))
        row += "| " + "/".join(fmt(x) for x in rss)
        lines.append(row)
    return "\n".join(lines)


def open_loop_table(ol: dict) -> str:
    lines = [f"open loop: {ol['applicants']} applicants + a reviewer and an administrator downloading PDFs, "
             f"{ol['seconds']:.0f} s",
             f"{'operation':30} {'requests':>8} {'req/s':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'errors':>6}"]
    for name, r in sorted(ol["operations"].items()):
        lines.append(f"{name:30} {r['requests']:>8} {r['rps']:>6.1f} {fmt(r['p50_ms'], '.1f'):>7} "
                     f"{fmt(r['p99_ms'], '.1f'):>7} {fmt(r['max_ms'], '.1f'):>7} {r['errors']:>6}")
    ready = ol["pdf_ready_s"]
    if ready:
        lines.append(f"PDF ready (request → PDF received): {len(ready)} PDFs, median {ready[len(ready) // 2]:.2f} s, "
                     f"max {ready[-1]:.2f} s; unfinished {ol['pdf_unfinished']}")
    lines.append(f"peak RSS: gunicorn workers {ol['peak_worker_rss_mb']:.0f} MB, other server processes "
                 f"{ol['peak_other_rss_mb']:.0f} MB")
    for note in ol["errors"][:10]:
        lines.append(f"  error: {note}")
    return "\n".join(lines)


def verdicts(sizes: list) -> list[str]:
    """Each target of issue #16 against the figures, met or not."""
    out = []
    last = sizes[-1]
    for s in sizes:
        ops = s["operations"]
        pages = {k: v for k, v in ops.items() if k.startswith("step ") or k == "review page"}
        worst = min(pages.items(), key=lambda kv: kv[1]["ratio"])
        out.append(f"N={s['n']}: worst step/review ratio {worst[1]['ratio']:.3f} ({worst[0]}), target "
                   f"≥ {TARGET_STEP_RATIO}: {'met' if worst[1]['ratio'] >= TARGET_STEP_RATIO else 'NOT met'}")
        auto = next(v for k, v in ops.items() if k.startswith("autosave"))
        x = auto["p50_ms"] / s["bare_p50_ms"]
        out.append(f"N={s['n']}: autosave p50 {auto['p50_ms']:.1f} ms = {x:.1f}× bare p50 {s['bare_p50_ms']:.1f} ms, "
                   f"target ≤ {TARGET_AUTOSAVE_X:.0f}×: {'met' if x <= TARGET_AUTOSAVE_X else 'NOT met'}")
    for k, v in last["operations"].items():
        if k in ("county queue", "admin dashboard") or k.startswith("admin list"):
            sqls = [s["operations"][k].get("sql") for s in sizes]
            out.append(f"N={last['n']}: {k} ratio {v['ratio']:.3f} (target ≥ {TARGET_LIST_RATIO}: "
                       f"{'met' if v['ratio'] >= TARGET_LIST_RATIO else 'NOT met'}); SQL statements by N {sqls} "
                       f"({'constant' if len(set(sqls)) == 1 else 'GROWS'})")
    ol = last.get("open_loop")
    if ol:
        worst = max(((k, v) for k, v in ol["operations"].items() if "PDF" not in k or "正在生成" in k),
                    key=lambda kv: kv[1]["p99_ms"], default=(None, None))
        errors = sum(v["errors"] for v in ol["operations"].values())
        if worst[0]:
            met = "met" if worst[1]["p99_ms"] < TARGET_OPEN_P99_MS else "NOT met"
            out.append(f"open loop: worst page p99 {worst[1]['p99_ms']:.0f} ms ({worst[0]}), target < "
                       f"{TARGET_OPEN_P99_MS:.0f} ms: {met}; errors {errors}")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 2000])
    parser.add_argument("--quick", action="store_true", help="N=100 only, short runs (about 2 minutes)")
    parser.add_argument("--database-url", help="an EMPTY PostgreSQL database (wiped at every N); default SQLite")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per operation")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=8, help="simultaneous users per operation")
    parser.add_argument("--applicants", type=int, default=200, help="applicants in the open-loop scenario")
    parser.add_argument("--pdf-seconds", type=float, default=60.0)
    parser.add_argument("--no-open-loop", action="store_true")
    parser.add_argument("--python-client", action="store_true",
                        help="drive GET pages with the Python client instead of wrk (the old generator)")
    parser.add_argument("--keep", action="store_true", help="keep the instances (in the printed folder)")
    parser.add_argument("--output", help="JSON file (default benchmarks/results/<timestamp>.json)")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = [100] if args.sizes == [100, 500, 2000] else args.sizes
        args.seconds, args.warmup, args.pdf_seconds = 1.5, 0.5, 20.0
    workdir = tempfile.mkdtemp(prefix="wizard-load-")
    say(f"load benchmark: sizes {args.sizes}, {args.seconds:.1f} s per operation, {args.concurrency} users; "
        f"instances in {workdir}")
    gets = "wrk (GET pages and the bare route)" if WRK and not args.python_client else "Python (every request)"
    say(f"load generator: {gets}, POSTs and the open loop in Python; on the same {os.cpu_count()} cores "
        f"as gunicorn's 2 workers (client_cpu in the JSON: the generator's CPU share)")
    bare = Bare(workdir)
    sizes = []
    try:
        for n in args.sizes:
            sizes.append(run_size(args, n, workdir, bare, with_pdf=not args.no_open_loop and n == args.sizes[-1]))
    finally:
        bare.server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    report = {"when": datetime.now().isoformat(timespec="seconds"), "host": platform.node(),
              "cpus": os.cpu_count(), "python": platform.python_version(), "args": vars(args), "sizes": sizes,
              "note": "load generator: Python threads in the same machine (same cores) as the server"}
    report["verdicts"] = verdicts(sizes)
    say("")
    say(table(sizes))
    for s in sizes:
        if s.get("open_loop"):
            say("")
            say(f"N={s['n']}: " + open_loop_table(s["open_loop"]))
    say("")
    for v in report["verdicts"]:
        say(v)
    os.makedirs(RESULTS, exist_ok=True)
    path = args.output or os.path.join(RESULTS, datetime.now().strftime("%Y%m%d-%H%M%S") + ".json")
    with open(path, "w") as fh:
        json.dump(report, fh, ensure_ascii=False, indent=1)
    say(f"\nwritten to {os.path.relpath(path, ROOT)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except LoadError as exc:
        say(f"load benchmark failed: {exc}")
        sys.exit(1)
