"""The render queue (wizard/pdf/queue.py) and its consumers (wizard/pdf/worker.py), as real
processes: the page worker never loads the PDF engine; a consumer killed mid-render (SIGKILL)
leaves no process behind and its job is tried once more, then reported as failed with 重新生成;
one applicant's "edit, request the PDF, hang up" cannot hold back another's PDF by more than one
render; the cache keeps one draft per submission and round, within its size; and the queue works
on Redis, shared by processes.  (test_render_pool.py holds the promises kept from the pool.)"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from factories import ALLOY, LINXIANG, PASSWORD, AuthActions, submission_of
from fill import complete_answers
from rendering import LONG, cached, children, fill_alloy, renders, text_of, until
from wizard.extensions import db
from wizard.pdf import cache
from wizard.pdf.queue import ATTEMPTS, recover, slot_of
from wizard.pdf.report import render_queue

ROOT = Path(__file__).resolve().parents[2]
URL = "/applicant/report.pdf"
ENGINE = ("xhtml2pdf", "reportlab", "wizard.pdf.engine", "wizard.pdf.render", "wizard.evidence.binding")












def alive(pid):
    """Whether ``pid`` is a live process (a zombie, dead but not yet reaped, is not)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def draft_slot(app, cluster=ALLOY):
    with app.app_context():
        return slot_of(app.config["PDF_CACHE_FOLDER"], f"draft-{submission_of(cluster).id}-preliminary")


def running(app, slot):
    with app.app_context():
        return render_queue().get(f"running:{slot}")


@pytest.fixture
def own_queue(app, tmp_path):
    """This test's queue (not the session's consumer) and a function that starts a consumer on it
    with the real command, ``flask --app wizard render-worker``; every consumer killed at the end."""
    url = f"sqlite:///{tmp_path / 'own-queue.db'}"
    app.config.update(RENDER_QUEUE_URL=url, RENDER_ORPHAN_SECONDS=2, PDF_WAIT_SECONDS=0)
    config = {"INSTANCE_PATH": str(tmp_path / "consumer"), "SECRET_KEY": "test", "RENDER_QUEUE_URL": url,
              "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'unused.db'}", "RENDER_ORPHAN_SECONDS": 2}
    consumers = []

    def start():
        flask = str(Path(sys.executable).with_name("flask"))
        proc = subprocess.Popen([flask, "--app", f"wizard:create_app({config!r})", "render-worker"], cwd=ROOT)
        consumers.append(proc)
        return proc

    yield start
    for proc in consumers:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_a_consumer_killed_as_it_took_its_job_leaves_it_to_be_tried_again(app, client, auth, people, own_queue):
    """Killed after its running record and before it moved the job out of its place (the window
    test_a_consumer_killed_mid_render… hit now and then under load): the job had lost its message
    and the record named no job, so it was never recovered and the applicant waited for ever.
    Now it is queued again (its second attempt) and a consumer renders it."""
    fill_alloy(app)
    auth.login("applicant-a")
    slot = draft_slot(app)
    assert client.get(URL).status_code == 202  # queued; no consumer yet
    with app.app_context():  # what the dead consumer left: its message taken, its record stale, no runjob
        queue = render_queue()
        assert queue.huey.dequeue() is not None and queue.huey.pending_count() == 0
        queue.pop(f"queued:{slot}")
        key = queue.get(f"latest:{slot}")
        queue.put(f"running:{slot}", {"key": key, "folder": app.config["PDF_CACHE_FOLDER"], "token": "dead",
                                      "beat": time.time() - 60, "attempt": 1, "consumer": "dead", "pid": None})
        assert recover(queue, slot) == "queued"
        assert queue.get(f"job:{slot}")["attempt"] == 2 and queue.huey.pending_count() == 1
    own_queue()
    app.config["PDF_WAIT_SECONDS"] = LONG
    assert client.get(URL).status_code == 200


def test_a_page_worker_never_imports_the_pdf_engine(app, people, tmp_path):
    """create_app and a page request that asks for the report PDF, in a fresh process: the PDF is
    queued (202), and so is the declaration page to sign, and neither xhtml2pdf nor reportlab (the
    engine, the binding) was ever imported."""
    fill_alloy(app)
    config = {k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "UPLOAD_FOLDER",
                                         "PDF_CACHE_FOLDER", "PASSWORD_HASH_METHOD")}
    config.update(TESTING=True, INSTANCE_PATH=str(tmp_path / "worker"), PDF_WAIT_SECONDS=0,
                  RENDER_QUEUE_URL=f"sqlite:///{tmp_path / 'no-consumer.db'}")
    # logs in by hand: the tests' factories import reportlab themselves (to build test PDFs)
    script = ("import json, re, sys\nfrom wizard import create_app\n"
              f"app = create_app({config!r})\nclient = app.test_client()\n"
              "page = client.get('/login').get_data(as_text=True)\n"
              "token = re.search(r'name=\"csrf_token\"[^>]*value=\"([^\"]+)\"', page).group(1)\n"
              f"client.post('/login', data={{'username': 'applicant-a', 'password': {PASSWORD!r}, 'csrf_token': token}})\n"
              f"status = [client.get(u).status_code for u in ({URL!r}, '/applicant/declaration.pdf')]\n"
              f"print(json.dumps({{'status': status, 'loaded': [m for m in {ENGINE!r} if m in sys.modules]}}))\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=LONG)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"status": [202, 202], "loaded": []}


def test_a_consumer_killed_mid_render_leaves_nothing_and_its_job_is_retried_once(app, client, auth, people,
                                                                                 own_queue):
    fill_alloy(app, evidence=2)
    auth.login("applicant-a")
    slot = draft_slot(app)
    assert client.get(URL).status_code == 202  # queued; no consumer yet
    dead = None  # the render process of the consumer killed last: its record stays until found silent
    for attempt in range(1, ATTEMPTS + 1):
        consumer = own_queue()
        until(lambda: (running(app, slot) or {}).get("pid") not in (None, dead))
        record = running(app, slot)
        assert record["attempt"] == attempt
        consumer.send_signal(signal.SIGKILL)  # mid-render: the render process is importing or rendering
        consumer.wait()
        until(lambda: not alive(record["pid"]), 30)  # died with its consumer, not re-parented
        dead = record["pid"]
        assert cached(app) == [] and cached(app, ".tmp") == []
        page = client.get(URL)  # what the applicant sees meanwhile
        assert page.status_code in (202, 503)
    own_queue()  # a third consumer (or any request) finds the second death: failed, not a third try
    until(lambda: cached(app, ".failed"), 60)
    page = client.get(URL)
    text = page.get_data(as_text=True)
    assert page.status_code == 503 and "重新生成" in text and f'href="{URL}?retry=1"' in text
    assert running(app, slot) is None and cached(app, ".lock") == []
    app.config["PDF_WAIT_SECONDS"] = LONG
    again = client.get(URL + "?retry=1")
    assert again.status_code == 200 and "佐证材料第1页" in text_of(again.data)
    assert cached(app, ".failed") == []


def set_answer(app, cluster, value):
    with app.app_context():
        sub = submission_of(cluster)
        sub.preliminary_answers = {**(sub.preliminary_answers or complete_answers("preliminary")),
                                   "industry_field": value}
        db.session.commit()
        return sub.id


def test_one_applicant_spamming_renders_delays_another_by_at_most_one_render(app, people):
    """A: eleven times "edit one field, request the PDF, hang up"; B asks once in the middle.
    B waits for at most the render under way and one of A's queued before B asked (one message per
    slot); none of A's requests after B's overtakes it.  A render an edit made stale is dropped,
    and A keeps one draft PDF, the newest."""
    fill_alloy(app)
    set_answer(app, LINXIANG, "乙")
    app.config["PDF_WAIT_SECONDS"] = 0
    a, b = app.test_client(), app.test_client()
    AuthActions(a).login("applicant-a")
    AuthActions(b).login("applicant-b")
    for i in range(4):
        a_id = set_answer(app, ALLOY, f"第{i}稿")
        assert a.get(URL).status_code == 202
    before = len(renders(app))
    asked = time.time()
    assert b.get(URL).status_code == 202
    for i in range(4, 11):
        set_answer(app, ALLOY, f"第{i}稿")
        a.get(URL)  # hangs up at once (202)
        time.sleep(0.3)
    b_id = set_answer(app, LINXIANG, "乙")  # unchanged: B's key stays
    until(lambda: any(r.key.startswith(f"draft-{b_id}-") for r in renders(app)))
    done = renders(app)[before:]
    b_at = next(i for i, r in enumerate(done) if r.key.startswith(f"draft-{b_id}-"))
    ahead = [r for r in done[:b_at] if r.key.startswith(f"draft-{a_id}-") and r.written_at > asked]
    assert len(ahead) <= 2, ahead  # under way when B asked, and at most one queued before B
    app.config["PDF_WAIT_SECONDS"] = LONG
    last = a.get(URL)
    assert last.status_code == 200 and "第10稿" in text_of(last.data)
    assert len([n for n in cached(app) if n.startswith(f"draft-{a_id}-")]) == 1


def test_the_cache_keeps_the_newest_draft_and_stays_within_its_size(app, client, auth, people, runner):
    fill_alloy(app, evidence=1)
    auth.login("applicant-a")
    folder = app.config["PDF_CACHE_FOLDER"]
    sizes = []
    for i in range(3):  # edit, download: each version replaces the last
        a_id = set_answer(app, ALLOY, f"第{i}稿")
        r = client.get(URL)
        assert r.status_code == 200 and f"第{i}稿" in text_of(r.data)
        # the consumer removes the version it replaced just after the new file answers the download
        until(lambda: len(cached(app)) == 1)
        sizes.append(sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder)))
    [draft] = cached(app)
    assert draft.startswith(f"draft-{a_id}-preliminary-") and sizes[2] < 1.5 * sizes[0]
    # files left by an older version of the app, or by consumers with a larger bound: cleanup tidies
    for n, age in ((f"draft-{a_id}-preliminary-{'a' * 64}", 300), ("report-" + "b" * 32 + "-t5-" + "c" * 16, 200),
                   ("snapshot-" + "d" * 32 + "-t5-" + "e" * 16, 100)):
        with open(os.path.join(folder, n + ".pdf"), "wb") as fh:
            fh.write(b"%PDF-1.4\n" + b"0" * 100_000)
        os.utime(os.path.join(folder, n + ".pdf"), (time.time() - age, time.time() - age))
    app.config["PDF_CACHE_MAX_BYTES"] = os.path.getsize(os.path.join(folder, draft)) + 150_000
    result = runner.invoke(args=["cleanup"])
    assert result.exit_code == 0, result.output
    assert "PDF 缓存：已删除 2 个" in result.output  # the older draft, then the least recently used stored PDF
    assert sorted(cached(app)) == sorted([draft, "snapshot-" + "d" * 32 + "-t5-" + "e" * 16 + ".pdf"])
    assert client.get(URL).status_code == 200  # the newest draft is still served from the file


def test_eviction_takes_the_least_recently_used_first(tmp_path):
    """Unit test of the bound (real files): the least recently used go first, whatever their kind."""
    def put(name, used):
        path = tmp_path / name
        path.write_bytes(b"0" * 1000)
        os.utime(path, (used, used))

    now = time.time()
    put("report-x.pdf", now - 500)
    put("draft-1-preliminary-aa.pdf", now - 10)
    put("draft-2-preliminary-bb.pdf", now - 100)
    put("snapshot-y.pdf", now - 50)
    freed = cache.within(str(tmp_path), 2000)
    assert (freed.files, freed.bytes) == (2, 2000)
    assert sorted(os.listdir(tmp_path)) == ["draft-1-preliminary-aa.pdf", "snapshot-y.pdf"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    """A redis-server of this test's own on a free port (.ci/run installs it)."""
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        until(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 30)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait()


@pytest.mark.needs("redis-server")
def test_the_queue_on_redis_is_shared_by_processes(app, client, auth, people, redis_url):
    """RENDER_QUEUE_URL=redis://…: the page worker queues on Redis, two consumers share it."""
    app.config.update(RENDER_QUEUE_URL=redis_url, PDF_WAIT_SECONDS=LONG)
    consumers = [subprocess.Popen([sys.executable, "-m", "wizard.pdf.worker", "--queue", redis_url], cwd=ROOT)
                 for _ in range(2)]
    try:
        fill_alloy(app, evidence=1)
        auth.login("applicant-a")
        r = client.get(URL)
        assert r.status_code == 200 and "佐证材料第1页" in text_of(r.data)
        until(lambda: renders(app))  # recorded just after the file is in place
        [result] = renders(app)
        assert result.pid not in (os.getpid(), *(c.pid for c in consumers))
    finally:
        for c in consumers:
            c.terminate()
            c.wait(30)


def test_a_render_over_its_time_limit_is_stopped_and_says_so(app, client, auth, people, tmp_path):
    """The whole job (start, layout, binding) has a wall-clock limit: a full report with evidence
    takes seconds of CPU, the limit here is half a second; the render process is killed."""
    url = f"sqlite:///{tmp_path / 'limit-queue.db'}"
    app.config.update(RENDER_QUEUE_URL=url, PDF_WAIT_SECONDS=LONG)
    consumer = subprocess.Popen([sys.executable, "-m", "wizard.pdf.worker", "--queue", url, "--time-limit", "0.5"],
                                cwd=ROOT)
    try:
        fill_alloy(app, evidence=1)
        auth.login("applicant-a")
        page = client.get(URL)
        text = page.get_data(as_text=True)
        assert page.status_code == 503 and "超过了时间上限" in text and f'href="{URL}?retry=1"' in text
        assert cached(app) == [] and children(consumer.pid) == []  # the render process was killed
    finally:
        consumer.kill()
        consumer.wait()
