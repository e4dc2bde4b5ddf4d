"""Factories and helpers shared by the tests."""
import re
from datetime import datetime, timezone

from sqlalchemy import event

from builders import image_bytes, pdf_bytes
from wizard.extensions import db
from wizard.models import Cluster, PendingSave, Region, Submission, User

PASSWORD = "correct-horse-9"


# --- factories --------------------------------------------------------------------------

def cluster_named(name):
    return db.session.execute(db.select(Cluster).filter_by(name=name)).scalar_one()


def region_named(name):
    return db.session.execute(db.select(Region).filter_by(name=name)).scalars().first()


def make_user(username, role, *, cluster=None, region=None, password=PASSWORD, active=True):
    """Create an account bound to a cluster (applicant) or region (county)."""
    user = User(username=username, role=role, display_name=username, active=active)
    if cluster is not None:
        user.cluster_id = (cluster if isinstance(cluster, Cluster) else cluster_named(cluster)).id
    if region is not None:
        user.region_id = (region if isinstance(region, Region) else region_named(region)).id
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def submission_of(cluster_name) -> Submission:
    return db.session.execute(
        db.select(Submission).join(Submission.cluster).where(Cluster.name == cluster_name)
    ).scalar_one()


ALLOY = "长沙新型合金材料产业集群"
LINXIANG = "临湘市钓具（浮标）产业集群"
SMART_CAR = "长沙智能汽车产业集群"


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, username, password=PASSWORD, follow=False):
        page = self._client.get("/login")
        token = csrf_from(page)
        return self._client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                                 follow_redirects=follow)

    def logout(self):
        token = self.csrf()
        return self._client.post("/logout", data={"csrf_token": token})

    def csrf(self, path="/messages"):
        return csrf_from(self._client.get(path))


def csrf_from(response) -> str:
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.get_data(as_text=True))
    assert m, "no CSRF token on the page"
    return m.group(1)




# --- sessions and logins -------------------------------------------------------------------

LOCKED = "登录失败次数过多"


def now_ts():
    return int(datetime.now(timezone.utc).timestamp())


def age_session(client, *, idle=None, since_login=None):
    """Pretend the last request was ``idle`` ago and the login ``since_login`` ago."""
    with client.session_transaction() as s:
        if idle is not None:
            s["_seen_at"] = now_ts() - int(idle.total_seconds())
        if since_login is not None:
            s["_auth_at"] = now_ts() - int(since_login.total_seconds())


def login_from(client, username, password, address="127.0.0.1"):
    env = {"REMOTE_ADDR": address}
    token = csrf_from(client.get("/login", environ_base=env))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                       environ_base=env)


# --- the login-expiry stash (web/pending.py): what a step posted after the login expired left --

def pending_rows(app):
    """The stashed saves (PendingSave rows) waiting for their user's next login."""
    with app.app_context():
        return db.session.execute(db.select(PendingSave)).scalars().all()


def plan_answers(app):
    """Applicant A's saved preliminary answers (the 实施方案 step is where the tests type)."""
    with app.app_context():
        return submission_of(ALLOY).answers_for("preliminary")


def step_token_and_version(client, key="plan"):
    """The CSRF token and hidden version of a wizard step's page, as the browser would post them."""
    page = client.get(f"/applicant/step/{key}").get_data(as_text=True)
    return (re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1),
            re.search(r'name="version"[^>]*value="(\d+)"', page).group(1))


# --- evidence files -------------------------------------------------------------------------

# Other test modules import these two builders (see builders.py) from here.
png_bytes = image_bytes


def attach(sub, slot, round_="preliminary", name="声明页扫描件.pdf", data=None, pages=1):
    """Store an evidence file as the applicant would (needs an app context)."""
    from wizard.evidence.storage import store

    return store(sub, round_, slot, name, data if data is not None else pdf_bytes(pages), None, check_editable=False)


def attach_declarations(sub, answers=None, rounds=("preliminary", "final")):
    """The files each round requires at submit: the signed declaration scan, 4.3's documents and
    one for every row marked 需提供佐证材料 with a non-zero value (in ``answers``, else the
    round's answers of ``sub``)."""
    from wizard.evidence.storage import DECLARATION_SCAN, files_of, needs_file, slots

    for round_ in rounds:
        values = answers if answers is not None else sub.answers_for(round_)
        have = {f.slot for f in files_of(sub, round_)}
        for s in slots(round_):
            if s.key not in have and needs_file(s, sub.cluster.category, values):
                attach(sub, s.key, round_, **({} if s.key == DECLARATION_SCAN else {"name": f"{s.key}.pdf"}))


def evidence_slots_needed(round_="preliminary", category="advanced", answers=None):
    """The slot keys (besides the declaration scan) a complete report needs a file in."""
    from fill import complete_answers
    from wizard.evidence.storage import DECLARATION_SCAN, needs_file, slots

    values = answers if answers is not None else complete_answers(round_, category)
    return [s.key for s in slots(round_) if s.key != DECLARATION_SCAN and needs_file(s, category, values)]


def user_named(username) -> User:
    return db.session.execute(db.select(User).filter_by(username=username)).scalar_one()


def submitted(cluster_name=ALLOY, applicant="applicant-a") -> Submission:
    """The cluster's complete preliminary report, with its signed declaration, submitted by
    its applicant (needs an app context)."""
    from fill import complete_answers
    from wizard.workflow.moves import apply_move

    sub = submission_of(cluster_name)
    sub.preliminary_answers = complete_answers("preliminary", sub.cluster.category)
    db.session.commit()
    attach_declarations(sub)
    apply_move(sub, "submit", user_named(applicant))
    return sub


def sql_of(app, client, method, path, **kwargs):
    """(response, the SQL statements of one request, whitespace folded, lower case)."""
    seen = []

    def listen(conn, cursor, statement, *args):
        seen.append(" ".join(statement.split()).lower())

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listen)
    try:
        r = client.open(path, method=method, **kwargs)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return r, seen


def statements(app, client, path):
    """How many SQL statements GET ``path`` makes (it must answer 200)."""
    r, seen = sql_of(app, client, "GET", path)
    assert r.status_code == 200, (path, r.status_code)
    return len(seen)
