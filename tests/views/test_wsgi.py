"""The real app under a real threaded WSGI server, hit from several threads at once:
the optimistic lock holds when two browsers save the same step, and ten identical moves
make exactly one.  No timing assertions: threads meet at a barrier, then race."""
import http.client
import re
import threading
import urllib.parse

import pytest
from werkzeug.serving import make_server

from factories import ALLOY, PASSWORD, submission_of
from wizard.extensions import db
from wizard.models import HistoryEntry


@pytest.fixture
def server(app):
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_port
    srv.shutdown()
    thread.join(timeout=30)


class Browser:
    """One browser: its own cookies, one HTTP connection per request (so threads never share one)."""

    def __init__(self, port):
        self.port, self.cookies = port, {}

    def request(self, method, path, form=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            text = r.read().decode("utf-8", "replace")
            for name, value in r.getheaders():
                if name.lower() == "set-cookie":
                    k, _, rest = value.partition("=")
                    self.cookies[k] = rest.split(";", 1)[0]
            return r.status, r.getheader("Location", ""), text
        finally:
            conn.close()

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, form):
        return self.request("POST", path, form)

    def login(self, username):
        _, _, page = self.get("/login")
        status, location, _ = self.post("/login", {"username": username, "password": PASSWORD,
                                                   "csrf_token": token_in(page)})
        assert status == 302 and "/login" not in location, (username, status)
        return self


def token_in(page):
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def version_in(page):
    return re.search(r'name="version"[^>]*value="(\d+)"', page).group(1)


def race(jobs):
    """Run the callables at the same moment in their own threads; their results in order."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def run(i, job):
        barrier.wait(timeout=120)
        try:
            results[i] = job()
        except Exception as exc:  # reported, not swallowed
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return results


def test_two_browsers_saving_the_same_step(app, server, people):
    """Both opened the step at the same version; one save wins, the other gets the stale-save page
    showing its own input, and nothing saved is overwritten."""
    a, b = Browser(server).login("applicant-a"), Browser(server).login("applicant-a")
    forms = []
    for browser, value in ((a, "新材料（甲窗口）"), (b, "有色金属（乙窗口）")):
        _, _, page = browser.get("/applicant/step/basic")
        forms.append((browser, {"csrf_token": token_in(page), "version": version_in(page),
                                "industry_field": value, "action": "save"}))
    with app.app_context():
        before = submission_of(ALLOY).version
    results = race([lambda br=br, f=f: br.post("/applicant/step/basic", f) for br, f in forms])
    assert not any(isinstance(r, Exception) for r in results), results
    statuses = sorted(r[0] for r in results)
    assert statuses == [302, 409], statuses
    winner = forms[[r[0] for r in results].index(302)][1]["industry_field"]
    loser_page = next(r[2] for r in results if r[0] == 409)
    loser_value = next(f["industry_field"] for (_, f), r in zip(forms, results) if r[0] == 409)
    assert "保存未成功" in loser_page and loser_value in loser_page and winner in loser_page
    with app.app_context():
        sub = submission_of(ALLOY)
        assert sub.preliminary_answers["industry_field"] == winner
        assert sub.version == before + 1


def test_ten_identical_moves_make_one(app, server, people):
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.state = "county_approved"
        db.session.commit()
        sid = sub.id
    admin = Browser(server).login("admin")
    _, _, page = admin.get(f"/admin/submissions/{sid}")
    form = {"csrf_token": token_in(page), "version": version_in(page), "move": "accept"}
    results = race([lambda: admin.post(f"/submissions/{sid}/move", form) for _ in range(10)])
    assert not any(isinstance(r, Exception) for r in results), results
    statuses = sorted(r[0] for r in results)
    assert statuses == [302] + [409] * 9, statuses
    # each refused click gets a Chinese reason telling the user to refresh (the page may be re-shown around it)
    assert all("刷新" in r[2] for r in results if r[0] == 409)
    with app.app_context():
        assert submission_of(ALLOY).state == "preliminary"
        moves = db.session.execute(db.select(HistoryEntry).filter_by(submission_id=sid)).scalars().all()
        assert [h.move for h in moves] == ["accept"]


def test_concurrent_readers_and_a_writer(app, server, people):
    """Reads while a save is in flight all succeed and see either the old or the new value."""
    owner = Browser(server).login("applicant-a")
    county = Browser(server).login("county-x")
    with app.app_context():
        sid = submission_of(ALLOY).id
    _, _, page = owner.get("/applicant/step/basic")
    form = {"csrf_token": token_in(page), "version": version_in(page), "industry_field": "并发写入的值",
            "action": "save"}
    jobs = [lambda: owner.post("/applicant/step/basic", form)]
    jobs += [lambda: county.get(f"/county/submissions/{sid}") for _ in range(6)]
    results = race(jobs)
    assert not any(isinstance(r, Exception) for r in results), results
    assert results[0][0] == 302
    assert all(r[0] == 200 for r in results[1:]), [r[0] for r in results[1:]]
    _, _, after = county.get(f"/county/submissions/{sid}")
    assert "并发写入的值" in after
