"""The load benchmark's request generator for pages read with GET: wrk (Debian's `wrk` package),
a compiled generator, so that the bare route's ceiling is the stack's and not the generator's.

wrk runs with 2 threads and the operation's concurrency as connections, GETs the operation's paths
in turn (benchmarks/wrk_paths.lua) carrying the logged-in session's cookie, and reports requests,
errors (any answer but 200, and socket errors) and latency percentiles.  The generator's CPU share
(its user + system seconds over the wall time, in cores) is measured from wrk's own rusage and
reported as ``client_cpu`` beside the figures.  POSTs (autosave, 保存: a CSRF token and a version
that changes with every answer) stay with the Python client (load_client.py)."""
import json
import os
import shutil
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LUA = os.path.join(HERE, "wrk_paths.lua")
WRK = shutil.which("wrk")


class WrkError(Exception):
    pass


def wrk_get(port: int, paths: list, cookies: dict, seconds: float, connections: int) -> dict:
    """One closed-loop run of wrk; the same keys as load_client.summarise, plus client_cpu."""
    if WRK is None:
        raise WrkError("wrk is not installed (apt-get install wrk)")
    env = dict(os.environ, WRK_PATHS="|".join(paths),
               WRK_COOKIE="; ".join(f"{k}={v}" for k, v in cookies.items()))
    args = [WRK, f"-t{min(2, connections)}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
            "-s", LUA, f"http://127.0.0.1:{port}/"]
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:
        raise WrkError(f"wrk failed ({proc.returncode}): {out[-500:]}")
    r = json.loads(lines[-1])
    seconds_run = r["duration_us"] / 1e6
    answered = r["requests"] > 0  # else wrk's percentiles are 0: no latency was measured
    return {"requests": r["requests"], "errors": r["status_errors"] + r["socket_errors"],
            "seconds": round(seconds_run, 3), "rps": r["requests"] / seconds_run if seconds_run else 0.0,
            "p50_ms": r["p50_us"] / 1000 if answered else None, "p99_ms": r["p99_us"] / 1000 if answered else None,
            "max_ms": r["max_us"] / 1000 if answered else None,
            "client_cpu": (usage.ru_utime + usage.ru_stime) / elapsed, "generator": "wrk"}
