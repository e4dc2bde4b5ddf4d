"""The administrator's list and dashboard as they are built for speed (issue #25): rows read as
columns, links built once per page, statements built once per shape of the filters, the pinyin
order compared as flat strings.  What the administrator sees must not change: the filters, the
search (wildcards are plain characters), the order, the rows' values (escaped), and every
change shows on the next page."""
import html
import random
import re
from datetime import datetime, timedelta

import pytest
from pypinyin import Style, lazy_pinyin

from factories import ALLOY, region_named, submission_of, user_named
from wizard.accounts import ensure_submissions
from wizard.extensions import db
from wizard.models import CATEGORY_LABELS, Cluster, Region, Submission
from wizard.web.lists import PLACE, PLACE_FULL_NAME, PLACE_PARENT, pinyin_key
from wizard.workflow.moves import apply_move
from wizard.workflow.states import STATES


@pytest.fixture
def admin(client, auth, people):
    auth.login("admin")
    return client


def add_clusters(app, names, region="长沙市", category="sme"):
    with app.app_context():
        region_id = region_named(region).id
        db.session.add_all([Cluster(name=n, category=category, region_id=region_id, designation="test") for n in names])
        db.session.commit()
        ensure_submissions()
        db.session.commit()


def rows_of(response):
    """(id, state, name, category, region, state label, time) of each row the list shows."""
    body = response.get_data(as_text=True)
    found = re.findall(
        r'<tr><td><input type="checkbox" name="ids" value="(\d+)" data-state="([a-z_]+)" data-name="([^"]*)" '
        r'aria-label="选择 \3"></td>\s*<td><a href="/admin/submissions/\1">\3</a></td>\s*'
        r'<td>([^<]*)</td><td>([^<]*)</td>\s*<td><span class="state-badge [^"]*">([^<]*)</span></td>'
        r'<td class="nowrap">([^<]*)</td>\s*<td><a class="btn btn-small btn-secondary" '
        r'href="/submissions/\1/report.pdf">报告 PDF</a></td></tr>', body)
    return [(int(i), st, html.unescape(n), c, r, label, t) for i, st, n, c, r, label, t in found]


def old_pinyin_key(name):
    """The key the list sorted by before it was made one string: (syllables, name) as tuples."""
    return tuple(s.lower() for s in lazy_pinyin(name or "", style=Style.TONE3)), name or ""


def test_the_flat_pinyin_key_sorts_as_the_syllables_then_the_name():
    names = ["长沙", "长沙县", "长沙市", "重庆", "虫", "中", "A集群", "A1集群", "a集群", "AB", "A", "", "集群",
             "长\x00", "长", "长\x01", "长\xff", "x\x00y", "x", "x\x00", "x\x00\x00", "x\x01", "①集群", "Ω"]
    rng = random.Random(25)
    alphabet = ["\x00", "\x01", "\x02", "\xff", "a", "B", "1", "长", "沙", "重", "中", " ", "%"]
    names += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5))) for _ in range(400)]
    assert sorted(names, key=pinyin_key) == sorted(names, key=old_pinyin_key)
    for a, b in zip(names, reversed(names)):
        assert (pinyin_key(a) < pinyin_key(b)) == (old_pinyin_key(a) < old_pinyin_key(b))


def test_every_order_and_page_shows_the_filtered_rows_in_order(app, admin):
    names = [f"排序测试{c}集群" for c in "甲乙丙丁戊己庚辛"]
    add_clusters(app, names[:5], "长沙市", "sme")
    add_clusters(app, names[5:], "湘潭市", "advanced")
    with app.app_context():
        for i, name in enumerate(names):
            sub = submission_of(name)
            sub.state = ["draft", "submitted", "finalist"][i % 3]
            sub.updated_at = datetime(2026, 5, 1 + i % 4, 8, i)
        db.session.commit()
        subs = {s.cluster.name: (s.id, s.state, s.updated_at, s.cluster.region.full_name)
                for s in db.session.execute(db.select(Submission)).scalars() if s.cluster.name in names}
    app.config["PAGE_SIZE"] = 3
    by_name = sorted(names, key=old_pinyin_key)
    orders = {"name": by_name, "": by_name,
              "state": sorted(names, key=lambda n: (subs[n][1], subs[n][0])),
              "updated": sorted(names, key=lambda n: (-subs[n][2].timestamp(), subs[n][0]))}
    for sort, order in orders.items():
        shown = []
        for page in (1, 2, 3):
            r = admin.get(f"/admin/submissions?q=排序测试&sort={sort}&page={page}")
            assert f"第 {page} / 3 页，共 8 条" in r.get_data(as_text=True)
            shown += rows_of(r)
        assert [row[2] for row in shown] == order, sort
        for sid, state, name, category, region, label, when in shown:
            assert (sid, state, region) == (subs[name][0], subs[name][1], subs[name][3])
            assert label == STATES[state].label
            assert category == CATEGORY_LABELS["sme" if name in names[:5] else "advanced"]
            assert when == (subs[name][2] + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")  # Beijing time
    # the filters, alone and together, with each order
    r = admin.get("/admin/submissions?q=排序测试&category=advanced&sort=updated")
    assert sorted(row[2] for row in rows_of(r)) == sorted(names[5:])
    r = admin.get("/admin/submissions?q=排序测试&state=submitted&city=430100&sort=state")
    assert [row[2] for row in rows_of(r)] == [n for n in orders["state"] if n in names[:5] and subs[n][1] == "submitted"]
    r = admin.get("/admin/submissions?q=排序测试&city=430300")  # 湘潭市
    assert [row[2] for row in rows_of(r)] == [n for n in by_name if n in names[5:]]
    r = admin.get("/admin/submissions?q=排序测试&city=999999&sort=updated")  # no such city: no city filter
    assert len(rows_of(r)) == 3 and "共 8 条" in r.get_data(as_text=True)
    r = admin.get("/admin/submissions?q=排序测试&sort=updated&page=4")
    assert rows_of(r) == [] and "没有符合条件的申报" in r.get_data(as_text=True)


def test_the_search_takes_wildcards_and_markup_as_plain_characters(app, admin):
    names = ["百分之百%集群", "下划_线集群", "斜杠/集群", '<b>"引号&符号\'集群', "普通集群"]
    add_clusters(app, names)
    for q, expected in (("%", [names[0]]), ("_", [names[1]]), ("/", [names[2]]), ("百%", [names[0]]),
                        ("<b>", [names[3]]), ('"引号&', [names[3]])):
        for sort in ("name", "updated"):
            r = admin.get("/admin/submissions", query_string={"q": q, "sort": sort})
            assert [row[2] for row in rows_of(r)] == expected, (q, sort)
    body = admin.get("/admin/submissions", query_string={"q": "<b>"}).get_data(as_text=True)
    assert "<b>\"" not in body and body.count("&lt;b&gt;&#34;引号&amp;符号&#39;集群") == 3


def test_a_change_shows_on_the_next_list_and_dashboard(app, admin):
    def dashboard_count(label):
        body = admin.get("/admin/").get_data(as_text=True)
        return int(re.search(rf">{label}</a></td><td class=\"num\">(\d+)<", body).group(1))

    def alloy_row(path="/admin/submissions?q=合金"):
        return rows_of(admin.get(path))[0]

    submitted_before = dashboard_count(STATES["submitted"].label)
    assert alloy_row()[1] == "draft"
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.state = "county_approved"
        db.session.commit()
        apply_move(sub, "accept", user_named("admin"))
    row = alloy_row("/admin/submissions?q=合金&sort=updated")
    assert row[1] == "preliminary" and row[5] == STATES["preliminary"].label
    assert dashboard_count(STATES["preliminary"].label) >= 1
    assert dashboard_count(STATES["submitted"].label) == submitted_before
    with app.app_context():
        submission_of(ALLOY).cluster.name = "长沙新型合金材料产业集群（更名）"
        db.session.commit()
    assert alloy_row()[2] == "长沙新型合金材料产业集群（更名）"
    add_clusters(app, ["新增合金测试集群"], "湘潭市", "advanced")
    assert [row[2] for row in rows_of(admin.get("/admin/submissions?q=合金&city=430300"))] == ["新增合金测试集群"]
    body = admin.get("/admin/").get_data(as_text=True)
    assert re.search(r'href="/admin/submissions\?city=430300" aria-label="湘潭市：(\d+) 份申报"', body)


def test_the_list_names_every_region_as_the_other_pages_do(app):
    """The list reads a row's region name in SQL; every region (a county after its city) reads
    as Region.full_name gives it on the other pages."""
    with app.app_context():
        in_sql = dict(db.session.execute(db.select(PLACE.id, PLACE_FULL_NAME)
                                         .outerjoin(PLACE_PARENT, PLACE_PARENT.id == PLACE.parent_id)).all())
        regions = db.session.execute(db.select(Region)).scalars().all()
        assert any(r.level == "county" for r in regions) and any(r.level == "province" for r in regions)
        assert in_sql == {r.id: r.full_name for r in regions}


def test_the_dashboard_counts_each_city_and_the_province_apart(app, admin):
    def city_cells():
        body = admin.get("/admin/").get_data(as_text=True)
        cells = dict(re.findall(r"<tr><td>([^<]+)</td><td class=\"num\">(?:<a [^>]*>)?(\d+)<", body))
        return {name: int(n) for name, n in cells.items()}

    before = city_cells()
    add_clusters(app, ["省级测试集群"], "湖南省")
    add_clusters(app, ["湘潭测试甲集群", "湘潭测试乙集群"], "湘潭市")
    add_clusters(app, ["岳塘测试集群"], "岳塘区")  # a county of 湘潭市: counted under its city
    after = city_cells()
    assert after["省级（不属于任何市州）"] == before.get("省级（不属于任何市州）", 0) + 1
    assert after["湘潭市"] == before["湘潭市"] + 3
    changed = ("湘潭市", "省级（不属于任何市州）")
    assert {k: v for k, v in after.items() if k not in changed} == \
        {k: v for k, v in before.items() if k not in changed}
