"""The administrator's dashboard and list and the county queue make a number of SQL statements
that does not grow with the number of submissions (no query per row)."""
import pytest

from factories import region_named, statements
from wizard.accounts import ensure_submissions
from wizard.extensions import db
from wizard.models import Cluster


def add_clusters(app, n, region="长沙市"):
    with app.app_context():
        region_id = region_named(region).id
        start = db.session.execute(db.select(db.func.count()).select_from(Cluster)).scalar_one()
        db.session.add_all([Cluster(name=f"测试集群{start + i}", category="sme" if i % 2 else "advanced",
                                    region_id=region_id, designation="test") for i in range(n)])
        db.session.commit()
        ensure_submissions()
        db.session.commit()


@pytest.mark.parametrize("role,path", [("admin", "/admin/"), ("admin", "/admin/submissions"),
                                       ("admin", "/admin/submissions?sort=updated"), ("county-x", "/county/")])
def test_statements_per_page_do_not_grow_with_the_submissions(app, client, auth, people, role, path):
    auth.login(role)
    add_clusters(app, 2)
    few = statements(app, client, path)
    add_clusters(app, 15)
    many = statements(app, client, path)
    assert many == few, f"{path}: {few} statements with few submissions, {many} with 15 more"
