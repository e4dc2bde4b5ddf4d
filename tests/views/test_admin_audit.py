"""The audit log in words (issue #14): cluster names instead of ``submission:1``, file names
instead of ``evidence:18``, the Chinese labels of moves and rounds instead of their keys; the
names are loaded for the page at once (the number of statements does not grow with the rows);
the 对象 filter finds rows by cluster name."""
import html
import re

import pytest

from factories import ALLOY, LINXIANG, statements, submission_of, user_named
from wizard.extensions import db
from wizard.models import AuditEntry, Cluster
from wizard.report.model import ROUND_LABELS
from wizard.workflow.moves import apply_move
from wizard.workflow.states import MOVES_BY_KEY, STATES


def cells(response):
    """(action key, object, detail) of every row of the log, in page order."""
    body = response.get_data(as_text=True)
    return [tuple(html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in row) for row in re.findall(
        r'<td data-action="([^"]+)">[^<]*</td><td>(.*?)</td>\s*<td class="audit-detail">(.*?)</td>', body, re.S)]


@pytest.fixture
def logged(app, client, auth, people, world):
    """A move, a download of the world's evidence file, an extension recorded the old way and an
    export of the final round's summary."""
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.state = "county_approved"
        db.session.commit()
        apply_move(sub, "accept", user_named("admin"))
        db.session.add_all([
            AuditEntry(action="deadline", username="admin", target=f"submission:{sub.id}",
                       detail="final: 2099-03-31 18:00"),  # as extensions were recorded before issue #14
            AuditEntry(action="export", username="admin", target="summary-final.xlsx",
                       detail="edition=1; 全省; state=final; category=sme; 3 份报告"),
        ])
        db.session.commit()
    auth.login("admin")
    assert client.get(f"/evidence/{world['file_id']}").status_code == 200
    return world


def test_objects_moves_and_rounds_are_named_in_words(app, client, logged):
    page = client.get("/admin/audit/")
    rows = cells(page)
    body = html.unescape(page.get_data(as_text=True))
    by_action = {a: (obj, detail) for a, obj, detail in rows}
    accept = MOVES_BY_KEY["accept"]
    assert by_action["move"] == (ALLOY, f"{accept.label}：{STATES[accept.source].label} → {STATES[accept.target].label}"
                                 " 查看申报")
    assert by_action["evidence_download"][0] == f"证明.pdf（{ALLOY}）"
    assert by_action["deadline"] == (ALLOY, f"{ROUND_LABELS['final']}截止时间延长至 2099-03-31 18:00 查看申报")
    obj, detail = by_action["export"]
    assert obj == "汇总表（决赛）" and "状态=决赛" in detail and "类别=中小企业特色产业集群" in detail
    assert "届次=" in detail and "edition=" not in detail
    for key in ("submission:", "evidence:", "（accept）", "(accept)", "final:", "summary-final"):
        assert key not in "".join(o + d for _, o, d in rows), key
    assert f'/admin/submissions/{logged["submission_id"]}' in body  # the cluster's page is one click away


def test_a_removed_file_is_still_named(app, client, logged):
    with app.app_context():
        db.session.add(AuditEntry(action="evidence_delete", username="applicant-a", target="evidence:987654",
                                  detail="旧证明.pdf"))
        db.session.commit()
    rows = cells(client.get("/admin/audit/?action=evidence_delete"))
    assert rows == [("evidence_delete", "文件 #987654（已删除）", "旧证明.pdf")]


def test_a_file_name_that_looks_like_a_filter_is_shown_as_typed(app, client, logged):
    """An applicant's file name "edition=².pdf" once made the log answer 500 ("²" is a digit to
    str.isdigit, not to int): only the app's own export details are reworded."""
    with app.app_context():
        db.session.add(AuditEntry(action="evidence_upload", username="applicant-a", target="evidence:987655",
                                  detail="上市公告：edition=²³.pdf state=draft"))
        db.session.commit()
    r = client.get("/admin/audit/?action=evidence_upload")
    assert r.status_code == 200
    assert cells(r) == [("evidence_upload", "文件 #987655（已删除）", "上市公告：edition=²³.pdf state=draft")]


def test_the_object_filter_finds_rows_by_cluster_name(client, logged):
    actions = [a for a, _, _ in cells(client.get("/admin/audit/?target=新型合金"))]
    assert sorted(actions) == ["deadline", "move"]
    assert [a for a, _, _ in cells(client.get("/admin/audit/?target=证明.pdf"))] == ["evidence_download"]
    assert cells(client.get(f"/admin/audit/?target={LINXIANG}")) == []


def add_rows(app, n):
    """Audit rows about n different submissions and n different (missing) files."""
    with app.app_context():
        ids = db.session.execute(db.select(Cluster.id).limit(n)).scalars().all()
        subs = [submission_of(db.session.get(Cluster, i).name).id for i in ids]
        db.session.add_all([AuditEntry(action="move", username="admin", target=f"submission:{s}",
                                       detail="晋级决赛（advance）：初赛 → 入围决赛") for s in subs]
                           + [AuditEntry(action="evidence_download", username="admin", target=f"evidence:{s + 1000}")
                              for s in subs])
        db.session.commit()


def test_names_are_loaded_for_the_page_not_per_row(app, client, logged):
    add_rows(app, 2)
    few = statements(app, client, "/admin/audit/")
    add_rows(app, 20)
    many = statements(app, client, "/admin/audit/")
    assert many == few, f"{few} statements with a few rows, {many} with 40 more"
    assert "晋级决赛：初赛 → 入围决赛" in html.unescape(client.get("/admin/audit/").get_data(as_text=True))
