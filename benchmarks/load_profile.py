"""Profile one page in process: CPU time per request (``time.process_time``, so a busy machine
changes it little) and, with ``--profile``, cProfile's top functions.

    python benchmarks/load_profile.py INSTANCE /applicant/step/quality --user bench-app-0000
    python benchmarks/load_profile.py INSTANCE /admin/submissions --user bench-admin --profile

    python benchmarks/load_profile.py INSTANCE --all

INSTANCE: a folder built by ``python benchmarks/load_data.py INSTANCE -n 100`` (or kept with
``load.py --keep``).  ``--post autosave|save`` posts the step form instead of getting the page.
``--all``: the CPU per request of every page issue #25 sets a target for, one line each: every
step of the first draft's wizard, its task list and review page, the county's and the
administrator's page of a submitted report, an autosave of two steps.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import logging
import os
import pstats
import statistics
import time

from load_client import changed_only, csrf_of, form_fields
from load_data import bench_app
from wizard.report.definition import get_report


def client_for(app, username, password):
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={"csrf_token": token, "username": username, "password": password})
    assert r.status_code == 302, f"{username} could not log in"
    return client


def request_fn(client, path, post):
    if not post:
        return lambda: client.get(path)
    page = client.get(path).get_data(as_text=True)
    fields = form_fields(page)
    if post == "autosave":  # as static/js/wizard.js sends it: the changed field alone
        fields = changed_only(fields)
    data = {}
    for k, v in fields:
        data.setdefault(k, []).append(v)
    headers = {"X-Requested-With": "fetch", "X-CSRFToken": data["csrf_token"][0]} if post == "autosave" else {}

    def call():
        r = client.post(path, data=data, headers=headers)
        if post == "autosave":
            data["version"] = [str(r.get_json()["version"])]
        else:
            page = client.get(r.headers["Location"]).get_data(as_text=True)
            data["version"] = [dict(form_fields(page))["version"]]
        return r
    return call


def cpu_ms(call, n) -> list[float]:
    """CPU milliseconds of ``n`` calls (after 3 to warm up)."""
    for _ in range(3):
        call()
    times = []
    for _ in range(n):
        t = time.process_time()
        call()
        times.append((time.process_time() - t) * 1000)
    return times


def all_pages(app, info, n) -> None:
    """One line per page: the median CPU per request (see the module's docstring)."""
    draft = next(a for a in info["applicants"] if a["state"] == "draft")
    sent = next(a for a in info["applicants"] if a["state"] == "submitted")
    applicant = client_for(app, draft["username"], info["password"])
    county = client_for(app, sent["county"], info["password"])
    admin = client_for(app, info["admin"], info["password"])
    pages = [(f"step {s.key}", applicant, f"/applicant/step/{s.key}", None) for s in get_report("preliminary").steps]
    pages += [("task list", applicant, "/applicant/", None), ("review", applicant, "/applicant/review", None),
              ("county submission", county, f"/county/submissions/{sent['submission_id']}", None),
              ("admin submission", admin, f"/admin/submissions/{sent['submission_id']}", None),
              ("autosave quality", applicant, "/applicant/step/quality", "autosave"),
              ("autosave indicators", applicant, "/applicant/step/indicators", "autosave")]
    for name, client, path, post in pages:
        times = cpu_ms(request_fn(client, path, post), n)
        print(f"{name:22s} {statistics.median(times):6.1f} ms  (min {min(times):.1f})  {path}", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("instance")
    p.add_argument("path", nargs="?")
    p.add_argument("--all", action="store_true", help="every page with a target, one line each")
    p.add_argument("--user", default="bench-app-0000")
    p.add_argument("--post", choices=["autosave", "save"])
    p.add_argument("-n", type=int, default=30)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--top", type=int, default=35)
    args = p.parse_args()
    logging.disable(logging.WARNING)
    with open(os.path.join(args.instance, "bench.json")) as fh:
        info = json.load(fh)
    app = bench_app(args.instance, info["database_url"] if not info["database_url"].startswith("sqlite") else None)
    if args.all:
        all_pages(app, info, args.n)
        return
    if not args.path:
        p.error("give a PATH, or --all")
    client = client_for(app, args.user, info["password"])
    call = request_fn(client, args.path, args.post)
    r = call()
    assert r.status_code in (200, 302), r.status_code
    for _ in range(3):
        call()
    times = []
    prof = cProfile.Profile() if args.profile else None
    for _ in range(args.n):
        t = time.process_time()
        if prof:
            prof.enable()
        r = call()
        if prof:
            prof.disable()
        times.append(time.process_time() - t)
    print(f"{args.path}: {len(r.data)} bytes, CPU per request median {statistics.median(times) * 1000:.1f} ms "
          f"(min {min(times) * 1000:.1f})")
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(args.top)
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
