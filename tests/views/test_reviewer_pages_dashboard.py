"""The administrator's dashboard counts (issue #25: grouped by city in SQL, not row by row per
cluster region): each 市州 counts the submissions of its own clusters and of its counties', a
cluster filed under the province itself shows in the 省级 row, and the states and categories
add up to the total."""
import re

from factories import make_user
from wizard.accounts import ensure_submissions
from wizard.extensions import db
from wizard.models import Cluster, Edition, Region, Submission


def _rows(page: str, heading: str) -> dict:
    block = page[page.index(f"<h2>{heading}</h2>"):]
    block = block[:block.index("</table>")]
    rows = re.findall(r"<tr><td>(?:<a [^>]*>)?([^<]+)(?:</a>)?</td><td class=\"num\">(?:<a [^>]*>)?(\d+)", block)
    return {name: int(n) for name, n in rows}


def _add_cluster(name, region_code, category="advanced"):
    region = db.session.execute(db.select(Region).filter_by(code=region_code)).scalar_one()
    db.session.add(Cluster(name=name, category=category, region_id=region.id))


def test_the_dashboard_counts_each_city_with_its_counties_and_the_province_apart(app, client, auth):
    with app.app_context():
        make_user("admin", "admin")
        counties = db.session.execute(db.select(Region).filter_by(level="county").order_by(Region.code)).scalars().all()
        province = db.session.execute(db.select(Region).filter_by(level="province")).scalar_one()
        # two more clusters in one county, one filed under the province, one small-business cluster
        county = counties[0]
        _add_cluster("测试县第一产业集群", county.code)
        _add_cluster("测试县第二产业集群", county.code, category="sme")
        _add_cluster("测试省级产业集群", province.code)
        ensure_submissions()
        db.session.commit()
        edition = db.session.execute(db.select(Edition).filter_by(is_current=True)).scalar_one()
        subs = db.session.execute(db.select(Submission).filter_by(edition_id=edition.id)).scalars().all()
        expected_city: dict = {}
        expected_category: dict = {}
        for sub in subs:  # the rule of Region.city, row by row
            city = sub.cluster.region.city
            key = "省级（不属于任何市州）" if city.level == "province" else city.name
            expected_city[key] = expected_city.get(key, 0) + 1
            label = sub.cluster.category_label
            expected_category[label] = expected_category.get(label, 0) + 1
        city_of_county = county.parent.name
        total = len(subs)
    auth.login("admin")
    page = client.get("/admin/").get_data(as_text=True)
    assert f"申报总数：{total}" in page
    by_city = _rows(page, "按市州")
    assert {k: v for k, v in by_city.items() if v} == expected_city
    assert by_city[city_of_county] >= 2 and by_city["省级（不属于任何市州）"] >= 1
    assert _rows(page, "按类别") == expected_category
    assert sum(_rows(page, "按状态").values()) == total
