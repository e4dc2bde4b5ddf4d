"""The state machine: generated from the move table, scoped, recorded, and safe under concurrency."""
import io
import re
import threading

import pytest

from factories import ALLOY, LINXIANG, attach, attach_declarations, csrf_from, pdf_bytes, submission_of
from fill import complete_answers, step_data
from wizard.extensions import db
from wizard.evidence.storage import files_of
from wizard.models import HistoryEntry, Message, Snapshot, Submission, User
from wizard.workflow.states import MOVES, STATES, MoveRefused
from wizard.workflow.moves import apply_move

ROLES = {"applicant": "applicant-a", "county": "county-x", "admin": "admin"}


def user(name):
    return db.session.execute(db.select(User).filter_by(username=name)).scalar_one()


def force(sub, state, complete=True):
    sub.state = state
    if complete:
        sub.preliminary_answers = complete_answers("preliminary")
        sub.final_answers = complete_answers("final")
    db.session.commit()
    if complete:
        attach_declarations(sub)


def history_count(sub):
    return db.session.execute(db.select(db.func.count()).select_from(HistoryEntry)
                              .filter_by(submission_id=sub.id)).scalar_one()


@pytest.mark.parametrize("state", list(STATES))
def test_move_table(app, people, state):
    """From each state, every (move, role) of the table is tried: allowed exactly when the
    table says so; a refusal changes nothing and writes no history row."""
    wrong = []
    with app.app_context():
        answers = {"preliminary": complete_answers("preliminary"), "final": complete_answers("final")}
        actors = {role: user(name) for role, name in ROLES.items()}
        sub = submission_of(ALLOY)
        sub.preliminary_answers, sub.final_answers = answers["preliminary"], answers["final"]
        db.session.commit()
        attach_declarations(sub)
        for move in MOVES:
            for role, actor in actors.items():
                sub.state, sub.preliminary_answers, sub.final_answers = state, answers["preliminary"], answers["final"]
                db.session.commit()
                before = history_count(sub)
                allowed = move.source == state and move.role == role
                try:
                    apply_move(sub, move.key, actor, comment="同意。")
                    happened = True
                except MoveRefused:
                    happened = False
                db.session.refresh(sub)
                if happened != allowed:
                    wrong.append((move.key, role, "moved" if happened else "refused"))
                elif allowed:
                    assert sub.state == move.target and history_count(sub) == before + 1
                else:
                    assert sub.state == state and history_count(sub) == before
    assert wrong == []


def test_comment_is_required_where_the_table_says(app, people):
    with app.app_context():
        sub = submission_of(ALLOY)
        force(sub, "submitted")
        with pytest.raises(MoveRefused, match="请填写审核意见"):
            apply_move(sub, "county_approve", user("county-x"), comment="  ")
        with pytest.raises(MoveRefused, match="请填写退回意见"):
            apply_move(sub, "county_return", user("county-x"))


def test_full_journey_over_http(app, client, auth, people):
    """Applicant submits, county approves, admin accepts, advances; final report pre-filled, submitted,
    approved, entered, awarded — each role through its own pages."""
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = complete_answers("preliminary")
        db.session.commit()
        attach(sub, "listed_enterprises", name="上市公告.pdf", pages=3)
        attach_declarations(sub, rounds=("preliminary",))
        sid = sub.id

    def move_as(username, move, comment=None, status=302, scan=None):
        auth.login(username)
        page_url = f"/county/submissions/{sid}" if username.startswith("county") else f"/admin/submissions/{sid}"
        page = client.get(page_url)
        html = page.get_data(as_text=True)
        version = re.search(r'name="version" value="(\d+)"', html).group(1)
        data = {"csrf_token": csrf_from(page), "move": move, "comment": comment or "", "version": version}
        if scan:
            data["scan"] = (io.BytesIO(scan), "县级意见盖章页.pdf")
        r = client.post(f"/submissions/{sid}/move", data=data)
        assert r.status_code == status, r.get_data(as_text=True)[:500]
        auth.logout()
        return r

    def submit_as(username):
        """The applicant submits from its review page, with the version the page carries."""
        auth.login(username)
        review = client.get("/applicant/review")
        version = re.search(r'name="version" value="(\d+)"', review.get_data(as_text=True)).group(1)
        r = client.post("/applicant/submit", data={"csrf_token": csrf_from(review), "version": version})
        assert r.status_code == 302
        auth.logout()

    submit_as("applicant-a")

    move_as("county-x", "county_approve", "同意推荐参赛。")
    with app.app_context():
        sub = db.session.get(Submission, sid)
        assert sub.opinions["preliminary"]["text"] == "同意推荐参赛。"
        admin_msgs = db.session.execute(db.select(Message).filter_by(user_id=user("admin").id)).scalars().all()
        assert any("审核通过" in m.text for m in admin_msgs)
    # the opinion appears in the report shown to the admin
    auth.login("admin")
    assert "同意推荐参赛。" in client.get(f"/admin/submissions/{sid}").get_data(as_text=True)
    auth.logout()
    move_as("admin", "accept")
    move_as("admin", "advance")
    with app.app_context():
        sub = db.session.get(Submission, sid)
        assert sub.state == "finalist"
        assert sub.final_answers["industry_field"] == sub.preliminary_answers["industry_field"]
        assert "declaration_agree" not in sub.final_answers
    # the applicant now edits the final report (附件2)
    auth.login("applicant-a")
    page = client.get("/applicant/step/org").get_data(as_text=True)
    assert "重点介绍集群初赛胜出后集群发展促进组织为推动集群发展所做的工作" in page
    assert "湖南省产业集群竞赛参赛报告（决赛）" in page
    auth.logout()
    with app.app_context():
        sub = db.session.get(Submission, sid)
        # the three texts 附件2 asks anew are marked until the applicant edits or confirms them
        assert sub.carried_texts == ["org_operation", "park_assessment", "self_assessment"]
        sub.final_answers = complete_answers("final")
        db.session.commit()
        # evidence was carried into the final report; the signed declaration must be signed anew
        slots = [f.slot for f in files_of(sub, "final")]
        assert slots[0] == "listed_enterprises" and "declaration_scan" not in slots
        attach(sub, "patents_per_10k", "final")  # a row 附件2 alone marks 需提供佐证材料
    auth.login("applicant-a")
    review = client.get("/applicant/review").get_data(as_text=True)
    assert "请上传签字盖章的真实性声明页扫描件" in review
    assert review.count("沿用初赛内容，请按决赛要求修改") == 3
    for step_key in ("quality", "park", "org"):  # 已按决赛要求核对, ticked and saved on each step
        page = client.get(f"/applicant/step/{step_key}")
        html = page.get_data(as_text=True)
        key = re.search(r'name="confirm_carried" value="(\w+)"', html).group(1)
        data = dict(step_data("final", step_key), csrf_token=csrf_from(page), confirm_carried=key,
                    version=re.search(r'name="version"[^>]*value="(\d+)"', html).group(1))
        assert client.post(f"/applicant/step/{step_key}", data=data).status_code == 302
    assert "沿用初赛内容" not in client.get("/applicant/review").get_data(as_text=True)
    page = client.get("/applicant/step/declaration")
    version = re.search(r'name="version"[^>]*value="(\d+)"', page.get_data(as_text=True)).group(1)
    r = client.post("/applicant/step/declaration", data={
        "csrf_token": csrf_from(page), "version": version, "action": "upload", "declaration_agree": "y",
        "org_leader_name": "张三", "park_leader_name": "李四",
        "evidence-declaration_scan": (io.BytesIO(pdf_bytes(1)), "决赛声明.pdf")})
    assert r.status_code == 302 and "#ev-declaration_scan" in r.headers["Location"]
    auth.logout()
    submit_as("applicant-a")
    move_as("county-x", "county_approve_final", "同意。", scan=pdf_bytes(1, "opinion"))
    move_as("admin", "enter_final")
    move_as("admin", "award")
    with app.app_context():
        sub = db.session.get(Submission, sid)
        assert sub.state == "awarded"
        moves = [h.move for h in db.session.execute(db.select(HistoryEntry).filter_by(submission_id=sid)
                                                    .order_by(HistoryEntry.id)).scalars()]
        assert moves == ["submit", "county_approve", "accept", "advance", "submit_final", "county_approve_final",
                         "enter_final", "award"]
        snaps = db.session.execute(db.select(Snapshot).filter_by(submission_id=sid)).scalars().all()
        assert [s.round for s in snaps] == ["preliminary", "final"]
        final_slots = [e["slot"] for e in snaps[1].evidence]
        assert final_slots[0] == "listed_enterprises" and final_slots[-1] == "declaration_scan"
        assert "patents_per_10k" in final_slots
        entries = {h.move: h for h in db.session.execute(db.select(HistoryEntry).filter_by(submission_id=sid)).scalars()}
        assert entries["submit_final"].evidence.original_name == "决赛声明.pdf"
        assert entries["county_approve_final"].evidence.original_name == "县级意见盖章页.pdf"
    # both files show in the history the applicant sees
    auth.login("applicant-a")
    history = client.get("/applicant/history").get_data(as_text=True)
    assert "决赛声明.pdf" in history and "县级意见盖章页.pdf" in history
    auth.logout()
    # a replayed move is refused with 409 and writes nothing
    move_as("admin", "award", status=409)


def test_refused_move_over_http_is_409_in_chinese(app, client, auth, people):
    with app.app_context():
        sid = submission_of(ALLOY).id
    auth.login("admin")
    page = client.get(f"/admin/submissions/{sid}")
    r = client.post(f"/submissions/{sid}/move", data={"csrf_token": csrf_from(page), "move": "advance"})
    assert r.status_code == 409 and "只能在“初赛”状态下进行" in r.get_data(as_text=True)


def test_return_comment_shown_to_applicant_until_next_submit(app, client, auth, people):
    with app.app_context():
        sub = submission_of(ALLOY)
        force(sub, "submitted")
        apply_move(sub, "county_return", user("county-x"), comment="请补充2.3重点项目。")
    auth.login("applicant-a")
    assert "请补充2.3重点项目。" in client.get("/applicant/").get_data(as_text=True)
    with app.app_context():
        sub = submission_of(ALLOY)
        apply_move(sub, "submit", user("applicant-a"))
        assert sub.return_comment is None


def test_county_sees_only_its_region(app, client, auth, people):
    with app.app_context():
        alloy, linxiang = submission_of(ALLOY).id, submission_of(LINXIANG).id
    auth.login("county-y")
    assert client.get(f"/county/submissions/{alloy}").status_code == 404
    assert client.get(f"/county/submissions/{linxiang}").status_code == 200
    queue = client.get("/county/").get_data(as_text=True)
    assert LINXIANG in queue and ALLOY not in queue
    page = client.get(f"/county/submissions/{linxiang}")
    r = client.post(f"/submissions/{alloy}/move", data={"csrf_token": csrf_from(page), "move": "county_approve",
                                                       "comment": "x"})
    assert r.status_code == 404


def test_undo_is_recorded_and_walks_back(app, people):
    with app.app_context():
        sub = submission_of(ALLOY)
        force(sub, "county_approved")
        apply_move(sub, "accept", user("admin"))
        apply_move(sub, "advance", user("admin"))
        with pytest.raises(MoveRefused, match="请填写撤销原因"):
            apply_move(sub, "undo", user("admin"))
        apply_move(sub, "undo", user("admin"), comment="误操作")
        assert sub.state == "preliminary"
        apply_move(sub, "undo", user("admin"), comment="误操作")
        assert sub.state == "county_approved"
        with pytest.raises(MoveRefused):
            apply_move(sub, "undo", user("county-x"), comment="x")


def test_deadline_closes_submitting(app, people):
    from datetime import datetime

    from wizard.workflow.deadlines import extend_deadline

    with app.app_context():
        sub = submission_of(ALLOY)
        force(sub, "draft")
        sub.edition.preliminary_deadline = datetime(2020, 1, 1)
        db.session.commit()
        with pytest.raises(MoveRefused) as exc:
            apply_move(sub, "submit", user("applicant-a"))
        assert "2020年01月01日" in exc.value.problems[0]["message"]
        extend_deadline(sub, user("admin"), datetime(2099, 1, 1), "材料补充")
        apply_move(sub, "submit", user("applicant-a"))
        assert sub.state == "submitted"
        # the extension was for the preliminary report: the final round keeps its own deadline
        sub.edition.final_deadline = datetime(2020, 6, 1)
        db.session.commit()
        for move, who in (("county_approve", "county-x"), ("accept", "admin"), ("advance", "admin")):
            apply_move(sub, move, user(who), comment="同意。")
        with pytest.raises(MoveRefused) as exc:
            apply_move(sub, "submit_final", user("applicant-a"))
        assert "2020年06月01日" in exc.value.problems[0]["message"]


def test_bulk_move_with_mixed_ids(app, client, auth, people):
    with app.app_context():
        a, b = submission_of(ALLOY), submission_of(LINXIANG)
        force(a, "county_approved", complete=False)
        ids = [a.id, b.id, 99999]
    auth.login("admin")
    page = client.get("/admin/submissions")
    r = client.post("/admin/submissions/bulk", data={"csrf_token": csrf_from(page), "move": "accept",
                                                     "ids": [str(i) for i in ids]})
    html = r.get_data(as_text=True)
    assert "已执行（1）" in html and "未执行（2）" in html and "不存在或无权操作" in html
    with app.app_context():
        assert submission_of(ALLOY).state == "preliminary" and submission_of(LINXIANG).state == "draft"


def test_twenty_concurrent_identical_moves_make_one(app, people):
    with app.app_context():
        sub = submission_of(ALLOY)
        force(sub, "county_approved", complete=False)
        sid, version = sub.id, sub.version
    results = []
    barrier = threading.Barrier(20)

    def worker():
        with app.app_context():
            s = db.session.get(Submission, sid)
            admin = user("admin")
            db.session.rollback()  # hold no transaction (on SQLite, no lock) while waiting
            barrier.wait(timeout=120)
            try:
                apply_move(s, "accept", admin, expected_version=version)
                results.append("ok")
            except MoveRefused:
                results.append("refused")
            except Exception as exc:  # a lock error would be a failure of the guarantee
                results.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1 and results.count("refused") == 19, results
    with app.app_context():
        sub = db.session.get(Submission, sid)
        assert sub.state == "preliminary"
        assert db.session.execute(db.select(db.func.count()).select_from(HistoryEntry)
                                  .filter_by(submission_id=sid, move="accept")).scalar_one() == 1


def test_times_are_beijing_time(app, client, auth, people):
    """Stored in UTC, shown in Beijing time; deadlines are Beijing wall-clock times."""
    from datetime import datetime

    with app.app_context():
        sub = submission_of(ALLOY)
        force(sub, "draft")
        sub.edition.preliminary_deadline = datetime(2026, 1, 1, 23, 30)  # 23:30 in Beijing
        db.session.commit()
        with pytest.raises(MoveRefused):  # 15:40 UTC is 23:40 in Beijing: too late
            apply_move(sub, "submit", user("applicant-a"), now=datetime(2026, 1, 1, 15, 40))
        apply_move(sub, "submit", user("applicant-a"), now=datetime(2026, 1, 1, 15, 20))
        apply_move(sub, "county_approve", user("county-x"), comment="同意。", now=datetime(2026, 1, 1, 17, 0))
        assert sub.opinions["preliminary"]["date"] == "2026-01-02"  # 01:00 on 2 January in Beijing
        sid = sub.id
    auth.login("admin")
    page = client.get(f"/admin/submissions/{sid}").get_data(as_text=True)
    assert "2026-01-01 23:20" in page and "2026-01-02 01:00" in page
