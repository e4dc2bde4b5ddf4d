"""Administrator lists (issue #14): Chinese names in pinyin order (not by character code) on every
page of the list, in the cluster and account lists and in the Excel export; the empty result list
says when it fills; history tables keep time and action on one line."""
import html
import re
from io import BytesIO

import pytest
from openpyxl import load_workbook

from factories import ALLOY, make_user, region_named, submission_of, user_named
from wizard.accounts import ensure_submissions
from wizard.extensions import db
from wizard.models import Cluster
from wizard.workflow.moves import apply_move
from wizard.workflow.states import MOVES_BY_KEY, STATES

# pinyin order: 安 an · 北 bei · 长 chang · 重 chong · 中 zhong; by character code 中 北 安 重 长
NAMES = ["中山测试甲集群", "重庆测试甲集群", "安化测试甲集群", "长沙测试甲集群", "北湖测试甲集群"]
PINYIN_ORDER = ["安化测试甲集群", "北湖测试甲集群", "长沙测试甲集群", "重庆测试甲集群", "中山测试甲集群"]


@pytest.fixture
def named(app, people):
    with app.app_context():
        region_id = region_named("长沙市").id
        db.session.add_all([Cluster(name=n, category="sme", region_id=region_id, designation="test") for n in NAMES])
        db.session.commit()
        ensure_submissions()
        db.session.commit()
    assert sorted(NAMES) != PINYIN_ORDER  # the two orders differ: the test can fail


@pytest.fixture
def admin(client, auth, people):
    auth.login("admin")
    return client


def listed(response, names=NAMES):
    """The given names in the order the page shows them."""
    body = html.unescape(response.get_data(as_text=True))
    return sorted((n for n in names if n in body), key=body.index)


def test_the_submission_list_sorts_by_pinyin_across_pages(app, admin, named):
    assert listed(admin.get("/admin/submissions?q=测试甲")) == PINYIN_ORDER
    assert listed(admin.get("/admin/submissions?q=测试甲&sort=name")) == PINYIN_ORDER
    app.config["PAGE_SIZE"] = 2
    pages = [admin.get(f"/admin/submissions?q=测试甲&page={p}") for p in (1, 2, 3)]
    assert [listed(p) for p in pages] == [PINYIN_ORDER[:2], PINYIN_ORDER[2:4], PINYIN_ORDER[4:]]
    body = pages[1].get_data(as_text=True)
    assert "第 2 / 3 页，共 5 条" in body and "page=1" in body and "page=3" in body
    beyond = admin.get("/admin/submissions?q=测试甲&page=9")
    assert beyond.status_code == 200 and listed(beyond) == [] and "没有符合条件的申报" in beyond.get_data(as_text=True)


def test_the_cluster_and_account_lists_sort_by_pinyin(app, admin, named):
    assert listed(admin.get("/admin/clusters")) == PINYIN_ORDER
    with app.app_context():
        for i, name in enumerate(NAMES):
            make_user(f"user-{i}", "applicant", cluster=name).display_name = name.replace("测试甲集群", "促进会")
        db.session.commit()
    people_names = [n.replace("测试甲集群", "促进会") for n in PINYIN_ORDER]
    assert listed(admin.get("/admin/accounts"), people_names) == people_names


def test_the_excel_export_follows_the_list_order(admin, named):
    r = admin.get("/admin/submissions.xlsx?q=测试甲")
    ws = load_workbook(BytesIO(r.data)).active
    names = [c for row in ws.iter_rows(values_only=True) for c in row if c in NAMES]
    assert names == PINYIN_ORDER


def test_the_empty_result_list_says_when_it_fills(app, admin):
    award = MOVES_BY_KEY["award"]
    body = html.unescape(re.sub(r"<[^>]+>", "", admin.get("/admin/results").get_data(as_text=True)))
    assert f"名单在记录「{STATES[award.target].label}」后生成" in body
    assert f"处于「{STATES[award.source].label}」状态的申报，执行「{award.label}」" in body
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.state = award.source
        db.session.commit()
        apply_move(sub, award.key, user_named("admin"))
    body = html.unescape(admin.get("/admin/results").get_data(as_text=True))
    assert ALLOY in body and "后生成" not in body


def test_history_rows_keep_time_and_action_on_one_line(app, admin, world):
    body = admin.get(f"/admin/submissions/{world['submission_id']}").get_data(as_text=True)
    row = re.search(r'<td class="history-when"><time datetime="([\d\-T:]+)" title="([^"]+)">([^<]+)</time></td>', body)
    assert row, "the history table's time cell"
    assert re.fullmatch(r"\d\d-\d\d \d\d:\d\d", row.group(3))  # short: month, day and time
    assert row.group(2).startswith(row.group(1)[:10])  # the full date and time on hover
    assert '<td class="history-what">提交初赛报告</td>' in body
    css = admin.get("/static/css/app.css").get_data(as_text=True)
    assert re.search(r"td\.history-when,\s*table\.history-table td\.history-what \{ white-space: nowrap; \}", css)
