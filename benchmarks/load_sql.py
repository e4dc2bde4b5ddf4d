"""SQL statements per request, page by page: the app in this process on the benchmark's
instance, the Flask test client, and a listener on the engine counting every statement the
request sends (after one warm-up request of the same page).

Run by benchmarks/load.py as ``python load_sql.py INSTANCE PLAN_JSON``; prints a JSON object
{operation: statements}.
"""
from __future__ import annotations

import json
import logging
import re
import sys

from sqlalchemy import event

from load_client import form_fields, csrf_of
from load_data import bench_app
from wizard.extensions import db


class Counter:
    def __init__(self, engine):
        self.n = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args, **_kw):
        self.n += 1


def _login(app, username, password, home):
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={"csrf_token": token, "username": username, "password": password})
    assert r.status_code == 302, f"{username} could not log in"
    return client, csrf_of(client.get(home).get_data(as_text=True))


def _post_step(client, token, path, fetch):
    page = client.get(path).get_data(as_text=True)
    fields = [(k, v) for k, v in form_fields(page) if k != "csrf_token"]
    data = {}
    for k, v in fields + [("csrf_token", token)] + ([] if fetch else [("action", "save")]):
        data.setdefault(k, []).append(v)
    headers = {"X-Requested-With": "fetch", "X-CSRFToken": token} if fetch else {}

    def post():
        r = client.post(path, data=data, headers=headers)
        if fetch and r.status_code == 200:
            data["version"] = [str(r.get_json()["version"])]
        elif not fetch:
            target = r.headers.get("Location", path)
            page = client.get(target).get_data(as_text=True)
            m = re.search(r'name="version"[^>]*value="(\d+)"', page)
            data["version"] = [m.group(1)] if m else data["version"]
        return r
    return post


def count(instance: str, database_url: str | None, plan: list, users: dict, password: str) -> dict:
    """``plan``: [{"name", "role", "kind": get|autosave|save, "path"}]; ``users``: role -> (username, home)."""
    logging.disable(logging.WARNING)
    app = bench_app(instance, database_url)
    out = {}
    with app.app_context():
        counter = Counter(db.engine)
    clients = {role: _login(app, name, password, home) for role, (name, home) in users.items()}
    for op in plan:
        if op["role"] not in clients:
            continue
        client, token = clients[op["role"]]
        if op["kind"] == "get":
            call = lambda c=client, p=op["path"]: c.get(p)  # noqa: E731
        else:
            call = _post_step(client, token, op["path"], op["kind"] == "autosave")
        call()  # warm-up: templates compiled, caches filled
        before = counter.n
        r = call()
        out[op["name"]] = counter.n - before if r.status_code in (200, 302) else None
    return out


if __name__ == "__main__":
    args = json.loads(sys.argv[2])
    print(json.dumps(count(sys.argv[1], args.get("database_url"), args["plan"], args["users"], args["password"])))
