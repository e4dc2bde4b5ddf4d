"""Reference data (regions, the 26 clusters of 附件3, the edition) and demo accounts.
Every function here is idempotent: running it again adds only what is missing."""
from datetime import datetime

from ..accounts import ensure_submissions
from ..extensions import db
from ..models import Cluster, Edition, Region, User
from .data.clusters import DESIGNATION_FIRST_BATCH, FIRST_BATCH
from .data.regions import CITIES, PROVINCE

DEMO_PASSWORD = "demo12345"
DEMO_ACCOUNTS = [
    # username, display name, role, cluster name, region code
    ("admin", "省工业和信息化厅管理员", "admin", None, None),
    ("county-changsha", "长沙市人民政府审核人", "county", None, "430100"),
    ("county-linxiang", "临湘市人民政府审核人", "county", None, "430682"),
    ("applicant-alloy", "长沙新型合金材料产业集群促进组织", "applicant", "长沙新型合金材料产业集群", None),
    ("applicant-linxiang", "临湘市钓具（浮标）产业集群促进组织", "applicant", "临湘市钓具（浮标）产业集群", None),
]
#: the demo expert pool (评审专家): username, name, 所在市州 (code), 工作单位, 擅长类别.  Spread over
#: cities and employers; expert-1 (长沙市) must not score the 长沙 cluster, expert-3 (岳阳市) not the
#: 临湘 one (临湘市 belongs to 岳阳市): the assignment has conflicts to avoid.
DEMO_EXPERTS = [
    ("expert-1", "周建华（评审专家）", "430100", "中南大学", "both"),
    ("expert-2", "李文博（评审专家）", "430300", "湘潭大学", "both"),
    ("expert-3", "陈晓红（评审专家）", "430600", "湖南理工学院", "both"),
    ("expert-4", "王志刚（评审专家）", "430400", "南华大学", "both"),
    ("expert-5", "刘海燕（评审专家）", "430200", "湖南工业大学", "both"),
]


def _region(code, name, level, parent=None):
    row = db.session.execute(db.select(Region).filter_by(code=code)).scalar_one_or_none()
    if row is None:
        row = Region(code=code, name=name, level=level, parent=parent)
        db.session.add(row)
    else:
        row.name, row.level, row.parent = name, level, parent
    return row


def seed_regions() -> int:
    province = _region(PROVINCE[0], PROVINCE[1], "province")
    for code, name, counties in CITIES:
        city = _region(code, name, "city", province)
        for ccode, cname in counties:
            _region(ccode, cname, "county", city)
    db.session.flush()
    return db.session.execute(db.select(db.func.count()).select_from(Region)).scalar_one()


def seed_clusters() -> int:
    for name, category, region_code in FIRST_BATCH:
        region = db.session.execute(db.select(Region).filter_by(code=region_code)).scalar_one()
        row = db.session.execute(db.select(Cluster).filter_by(name=name)).scalar_one_or_none()
        if row is None:
            db.session.add(Cluster(name=name, category=category, region=region, designation=DESIGNATION_FIRST_BATCH))
    db.session.flush()
    return len(FIRST_BATCH)


def seed_edition() -> Edition:
    edition = db.session.execute(db.select(Edition).filter_by(is_current=True)).scalar_one_or_none()
    if edition is None:
        edition = Edition(name="湖南省产业集群竞赛（第一届）", data_year_1=2021, data_year_2=2022, target_year_1=2023,
                          preliminary_deadline=datetime(2027, 1, 31, 23, 59),
                          final_deadline=datetime(2027, 6, 30, 23, 59), is_current=True)
        db.session.add(edition)
        db.session.flush()
    return edition


def seed_all() -> dict:
    regions = seed_regions()
    clusters = seed_clusters()
    seed_edition()
    ensure_submissions()
    db.session.commit()
    return {"regions": regions, "clusters": clusters}


def seed_demo() -> list:
    created = []
    for username, display, role, cluster_name, region_code in DEMO_ACCOUNTS:
        if db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none():
            continue
        user = User(username=username, display_name=display, role=role)
        if cluster_name:
            user.cluster = db.session.execute(db.select(Cluster).filter_by(name=cluster_name)).scalar_one()
        if region_code:
            user.region = db.session.execute(db.select(Region).filter_by(code=region_code)).scalar_one()
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)
        created.append(username)
    for username, display, city_code, employer, categories in DEMO_EXPERTS:
        if db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none():
            continue
        city = db.session.execute(db.select(Region).filter_by(code=city_code)).scalar_one()
        user = User(username=username, display_name=display, role="expert", region=city, employer=employer,
                    expert_categories=categories)
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)
        created.append(username)
    db.session.commit()
    return created
