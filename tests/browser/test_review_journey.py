"""Expert review (#21) in a real browser, by clicking and typing alone (after a login no address
is typed).  Five clusters of 附件3 (the longest names) are in 初赛 with their submitted reports;
the five experts are the demo's (wizard/ops/seed.DEMO_EXPERTS: city and employer, so that the
所在市州 rule keeps some of them off some reports).

初赛: the administrator edits one dimension's guidance in the 评分细则 and assigns automatically (3
experts a report, the load balanced); one expert declares a conflict (回避) and the administrator
adds another expert from the board; an expert scores its three reports, at 1366 px, at 390 px
(the sheet below the report instead of beside it) and at 1366 again, its first sheet autosaved
and kept across a reload, each submit confirmed on a page naming the total; the others score
theirs; the administrator reads the ranking with the report short of a score flagged, then,
once every score is in, ticks the top N per category with 选前 N 名 and advances them in one
move, and downloads the 评审结果汇总表 and a 专家评分表 (real PDFs).  决赛: the administrator adds
a 现场答辩 dimension, assigns, the experts score, the top one per category is recognised from the
ranking and the result list shows the final score.

The expert home, the expert's report page, the board and the ranking page are checked at 1366
and 390 px (no sideways scrolling at 390, no serious or critical axe-core violation); the
screenshots go to $WIZARD_SHOTS_DIR/<test>/ when set.  The administrator's clicks from the
board's 自动指派 to the advance are counted and printed (the journey's measure)."""
import re

import pytest

from browserkit import DESKTOP, PHONE, expect, pause, with_page_clock
from browser.axe import Checker, need_axe
from factories import PASSWORD, attach_declarations, submission_of, user_named
from fill import complete_answers
from wizard.extensions import db
from wizard.models import Region, ReviewAssignment, User
from wizard.ops.seed import DEMO_EXPERTS
from wizard.workflow.moves import apply_move

ADV_1 = "株洲先进电力电子器件及应用产业集群"  # 株洲市: expert-5 (株洲) is kept off it
ADV_2 = "湘潭绿色建材和装配式建筑产业集群"  # 湘潭市: expert-2
SME_1 = "岳阳临港智能打印及应用系统产业集群"  # 岳阳市: expert-3
SME_2 = "汨罗市有色金属资源循环利用产业集群"  # 汨罗市 → 岳阳市: expert-3
SME_3 = "张家界生物医药（植物提取）产业集群"  # 张家界市: nobody; the declared conflict is on it
CLUSTERS = (ADV_1, ADV_2, SME_1, SME_2, SME_3)
CATEGORY = {ADV_1: "advanced", ADV_2: "advanced", SME_1: "sme", SME_2: "sme", SME_3: "sme"}
TOP_PRELIMINARY = {"advanced": 1, "sme": 2}
TOP_FINAL = {"advanced": 1, "sme": 1}
PANEL = 3
NEW_GUIDANCE = "集群主导产业规模实力、产品市场竞争力、品牌建设等情况；以 2022 年数据为准。"
CONFLICT_REASON = "本人曾受邀参与该集群发展规划的编制，申请回避。"
# every expert's deduction from each dimension's maximum: the report's quality and the expert's
# severity (a harsh expert takes more off every report)
QUALITY = {ADV_1: 0.5, ADV_2: 1.5, SME_1: 1.0, SME_2: 0.0, SME_3: 2.0}
SEVERITY = {"expert-1": 0.0, "expert-2": 0.5, "expert-3": 1.0, "expert-4": 0.0, "expert-5": 0.5}


# --- setup: the demo's experts and the reports in 初赛 ----------------------------------------

def make_demo_experts():
    """The five experts as seed-demo creates them (the tests' password); the `people` fixture's
    two experts are switched off, so the pool is the demo's."""
    for user in db.session.execute(db.select(User).filter_by(role="expert")).scalars():
        user.active = False
    for username, display, city_code, employer, categories in DEMO_EXPERTS:
        city = db.session.execute(db.select(Region).filter_by(code=city_code)).scalar_one()
        user = User(username=username, display_name=display, role="expert", region=city, employer=employer,
                    expert_categories=categories, active=True)
        user.set_password(PASSWORD)
        db.session.add(user)
    db.session.commit()


def into_preliminary(name):
    """A complete 附件1, its files, submitted (the snapshot experts read), approved, taken into 初赛."""
    sub = submission_of(name)
    assert sub.cluster.category == CATEGORY[name]
    sub.preliminary_answers = complete_answers("preliminary", sub.cluster.category)
    db.session.commit()
    attach_declarations(sub, rounds=("preliminary",))
    apply_move(sub, "submit", user_named("applicant-a"))
    apply_move(sub, "county_approve", user_named("county-x"), comment="经审核，同意推荐参加初赛。")
    apply_move(sub, "accept", user_named("admin"))


def into_final(sub):
    """A finalist's complete 附件2, submitted, approved and taken into 决赛 (the applicants' part of
    the story is the main journey's, tests/browser/test_journey.py)."""
    sub.final_answers = complete_answers("final", sub.cluster.category)
    if hasattr(sub, "carried_texts"):
        sub.carried_texts = []
    db.session.commit()
    attach_declarations(sub, rounds=("final",))
    apply_move(sub, "submit_final", user_named("applicant-a"))
    apply_move(sub, "county_approve_final", user_named("county-x"), comment="经审核，同意推荐参加决赛。")
    apply_move(sub, "enter_final", user_named("admin"))


def assignments(app, round_):
    """cluster name → the usernames of its active experts in the round (what the board shows)."""
    with app.app_context():
        rows = db.session.execute(db.select(ReviewAssignment).filter_by(round=round_, status="active")).scalars()
        out = {}
        for a in rows:
            out.setdefault(a.submission.cluster.name, []).append(a.expert.username)
        return out


def per_expert(by_cluster):
    out = {}
    for name, experts in by_cluster.items():
        for username in experts:
            out.setdefault(username, []).append(name)
    return out


@pytest.fixture
def review_world(app, people):
    need_axe()
    with app.app_context():
        make_demo_experts()
        for name in CLUSTERS:
            into_preliminary(name)
    return app


class Clicks:
    """Counts one person's clicks (the measure of the administrator's path)."""

    def __init__(self):
        self.count = 0

    def __call__(self, locator):
        self.count += 1
        locator.click()


# --- the pieces of the story --------------------------------------------------------------------

def nav(page, name):
    page.get_by_role("navigation", name="主导航").get_by_role("link", name=name, exact=True).click()


def score_text(value):
    return f"{value:g}"


def fill_sheet(page, cluster, username):
    """Type a score into every dimension (its maximum read from the legend) and 总体评价; the total."""
    deduction = QUALITY[cluster] + SEVERITY[username]
    total = 0.0
    dims = page.locator("#sheet fieldset.expert-dimension")
    legends = dims.evaluate_all("ds => ds.map(d => d.querySelector('legend').innerText)")  # one round trip
    for i, legend in enumerate(legends):
        dim = dims.nth(i)
        maximum = float(re.search(r"满分 ([\d.]+) 分", legend).group(1))
        value = maximum - deduction
        total += value
        dim.locator("input.expert-score").fill(score_text(value))
    dims.first.locator("textarea").fill("主导产业优势明显，龙头企业带动作用较强。")
    page.get_by_label(re.compile("^总体评价")).fill(f"{cluster}：基础扎实，建议关注创新投入的持续性。")
    return total


def task_link(cluster):
    """The home page's 评分 button of a report (its accessible name carries the cluster's)."""
    return re.compile(rf"^评分\s*：\s*{re.escape(cluster)}$")


def open_report(expert, cluster, check=False):
    page = expert.tab.page
    nav(page, "评审任务")
    if check:
        expert(f"评审任务 {cluster}")
    page.get_by_role("link", name=task_link(cluster)).click()
    expect(page.get_by_role("heading", level=1, name=cluster)).to_be_visible()
    return page


def submit_sheet(page, cluster, total, tab=None):
    """提交评分, the confirmation naming the total, 确认提交: back home with the total said again."""
    page.get_by_role("button", name="提交评分").click()
    expect(page.get_by_role("heading", level=1, name="确认提交评分")).to_be_visible()
    expect(page.locator("main")).to_contain_text(f"总分：{score_text(total)} 分")
    if tab:
        tab.shot(f"确认提交-{page.viewport_size['width']}")
    page.get_by_role("button", name=f"确认提交（总分 {score_text(total)} 分）").click()
    expect(page.locator(".flash-success").first).to_contain_text(f"{cluster}，总分 {score_text(total)} 分")


def score(expert, cluster, username):
    page = open_report(expert, cluster)
    submit_sheet(page, cluster, fill_sheet(page, cluster, username))


def sheet_beside_report(page):
    sheet, report = page.locator("#sheet").bounding_box(), page.locator(".expert-report").bounding_box()
    return sheet["x"] >= report["x"] + report["width"] - 1


def sheet_below_report(page):
    page.locator("#sheet").scroll_into_view_if_needed()
    sheet, report = page.locator("#sheet").bounding_box(), page.locator(".expert-report").bounding_box()
    return sheet["y"] >= report["y"] + report["height"] - 1


def score_three(expert, username, reports):
    """One expert's three reports: at 1366 (with an autosave kept across a reload), at 390, at 1366."""
    page = expert.tab.page
    for n, cluster in enumerate(reports):
        if n == 0:  # the pages this tab loads from now on: autosave's pause is skipped, not waited for
            with_page_clock(expert.tab)
        page = open_report(expert, cluster, check=True)
        expert(f"评分页 {cluster}")
        if n == 1:  # on a phone: the sheet comes after the report
            page.set_viewport_size(PHONE)
            assert sheet_below_report(page), "at 390 px the score sheet is not below the report"
        else:
            assert sheet_beside_report(page), "at 1366 px the score sheet is not beside the report"
        if n == 0:  # autosave: typed, saved while typing, still there after a reload
            first = page.locator("#sheet input.expert-score").first
            first.fill("9.5")
            pause(page)
            expect(page.locator(".autosave-status")).to_contain_text("已自动保存")
            page.reload()
            expect(page.locator("#sheet input.expert-score").first).to_have_value("9.5")
            expect(page.locator("main")).to_contain_text("评分进度：已暂存")
        total = fill_sheet(page, cluster, username)
        expert.tab.shot(f"评分表已填写-{n}-{page.viewport_size['width']}")
        submit_sheet(page, cluster, total, expert.tab)
        page.set_viewport_size(DESKTOP)
    nav(page, "评审任务")
    expect(page.locator(".expert-round").first).to_contain_text(f"已提交 {len(reports)} 份")
    expert("评审任务（已全部提交）")


def declare_conflict(expert, cluster):
    page = open_report(expert, cluster)
    page.locator("details.expert-conflict summary").click()
    page.get_by_label(re.compile("^回避理由")).fill(CONFLICT_REASON)
    page.get_by_role("button", name="声明回避", exact=True).click()
    expect(page.locator(".flash-success").first).to_contain_text(f"已声明回避：{cluster}")
    expect(page.get_by_role("link", name=task_link(cluster))).to_have_count(0)


def download_pdf(page, link):
    """Click a download link: the browser saves a real PDF."""
    with page.expect_download() as download:
        link.click()
    with open(download.value.path(), "rb") as fh:
        head = fh.read(5)
    assert head == b"%PDF-", (download.value.suggested_filename, head)
    assert download.value.suggested_filename.endswith(".pdf")
    return download.value.suggested_filename


# --- the administrator ---------------------------------------------------------------------------

def edit_guidance(admin, click):
    page = admin.tab.page
    click(page.get_by_role("navigation", name="主导航").get_by_role("link", name="评审", exact=True))
    click(page.get_by_role("link", name="初赛评分细则").first)
    page.get_by_label("第 1 项评分说明").fill(NEW_GUIDANCE)
    click(page.get_by_role("button", name="保存评分细则"))
    expect(page.locator(".flash-success").first).to_contain_text("初赛评分细则已保存")
    admin.tab.shot("初赛评分细则已保存")


def auto_assign(admin, click, label):
    page = admin.tab.page
    click(page.get_by_role("link", name=f"{label}指派与进度").first)
    page.get_by_label("每份报告的专家人数").fill(str(PANEL))
    click(page.get_by_role("button", name="自动指派"))
    expect(page.locator(".flash-success").first).to_contain_text("新增指派")
    expect(page.locator("main")).to_contain_text("各专家已指派报告数的最大差")
    admin(f"{label}指派与进度")


def add_expert_for(admin, cluster):
    """From the board: the report short of an expert, 增派专家 (a conflicted expert is not offered)."""
    page = admin.tab.page
    page.get_by_role("link", name="初赛指派与进度").first.click()
    row = page.locator("table.review-reports tr").filter(has_text=cluster)
    expect(row).to_contain_text("需补派专家")
    row.get_by_role("link", name=cluster).click()
    expect(page.locator("main")).to_contain_text("声明回避：" + CONFLICT_REASON)
    choice = page.locator("#add-expert option:not([disabled])").nth(1)  # the first after 请选择
    name = choice.inner_text()
    page.get_by_label("增派专家").select_option(choice.get_attribute("value"))
    page.get_by_role("button", name="指派", exact=True).click()
    expect(page.locator(".flash-success").first).to_contain_text("已指派")
    admin.tab.shot("已增派专家")
    return name


def choose_top(admin, click, label, top):
    page = admin.tab.page
    for category, n in top.items():
        page.locator(f"#top-{category}").fill(str(n))
    click(page.get_by_role("button", name="选前 N 名"))
    expect(page.locator("tr.review-cut").first).to_be_visible()
    admin(f"{label}排名（选前 N 名）")
    ticked = {}
    for category, n in top.items():
        table = page.locator(f'table.review-ranking[data-category="{category}"]')
        checked = table.locator('input[name="ids"]:checked')
        expect(checked).to_have_count(n)
        ranks = [int(re.match(r"\d+", table.locator(f'tr[data-submission="{checked.nth(i).get_attribute("value")}"] '
                                                     "td:nth-child(2)").inner_text()).group())
                 for i in range(n)]
        assert ranks == list(range(1, n + 1)), ranks
        ticked[category] = [checked.nth(i).get_attribute("aria-label").removeprefix("勾选 ") for i in range(n)]
    return ticked


def advance(admin, click, label, move, count):
    page = admin.tab.page
    expect(page.get_by_label("操作")).to_have_value(move)
    click(page.get_by_role("button", name="执行并冻结排名"))
    expect(page.locator("main")).to_contain_text(f"已执行（{count}）")
    expect(page.locator("main")).to_contain_text("未执行（0）")
    admin.tab.shot(f"{label}已执行")


def final_scheme_with_hearing(admin):
    page = admin.tab.page
    page.get_by_role("link", name="决赛评分细则").first.click()
    page.get_by_role("button", name="添加一个维度").click()
    page.get_by_label("第 10 项维度名称").fill("现场答辩")
    page.get_by_label("第 10 项满分").fill("20")
    page.get_by_label("第 10 项评分说明").fill("答辩陈述清晰、回答问题准确，发展目标和举措可行。")
    page.get_by_role("button", name="保存评分细则").click()
    expect(page.locator(".flash-success").first).to_contain_text("现场答辩 20 分")
    expect(page.locator(".scheme-total")).to_have_text("120")
    admin.tab.shot("决赛评分细则")


# --- the story -------------------------------------------------------------------------------

def test_expert_review_from_assignment_to_the_result_list_by_clicking(review_world, new_tab):
    app = review_world
    axe_source = need_axe()
    tabs = {}

    def tab_of(username):
        if username not in tabs:
            tab = new_tab(bypass_csp=True)
            tab.login(username)
            tabs[username] = Checker(tab, axe_source)
        return tabs[username]

    admin, click = tab_of("admin"), Clicks()

    # 1. 评分细则, then the automatic assignment of 初赛
    edit_guidance(admin, click)
    clicks_before_assign = click.count
    auto_assign(admin, click, "初赛")
    clicks_assign = click.count - clicks_before_assign
    prelim = assignments(app, "preliminary")
    assert sorted(prelim) == sorted(CLUSTERS) and all(len(v) == PANEL for v in prelim.values()), prelim
    assert "expert-5" not in prelim[ADV_1] and "expert-2" not in prelim[ADV_2]  # 所在市州相同: 回避
    assert "expert-3" not in prelim[SME_1] + prelim[SME_2]

    # 2. an expert declares a conflict on SME_3; the administrator adds another from the board
    declarer = prelim[SME_3][0]
    declare_conflict(tab_of(declarer), SME_3)
    added_name = add_expert_for(admin, SME_3)
    prelim = assignments(app, "preliminary")
    replacement = next(u for u in prelim[SME_3] if user_named_display(app, u) in added_name)
    mine = per_expert(prelim)

    # 3. one expert scores its three reports (1366, 390, 1366); the others score theirs, the
    #    replacement leaves SME_3 for later
    three = next(u for u, names in sorted(mine.items()) if len(names) == 3 and u not in (declarer, replacement))
    expect(tab_of(three).tab.page.get_by_role("heading", level=1)).to_contain_text("评审任务")
    tab_of(three)("评审任务（专家首页）")
    score_three(tab_of(three), three, mine[three])
    for username, names in sorted(mine.items()):
        if username == three:
            continue
        for cluster in names:
            if (username, cluster) != (replacement, SME_3):
                score(tab_of(username), cluster, username)

    # 4. the ranking while one score is missing: flagged
    page = admin.tab.page
    page.get_by_role("link", name="初赛排名").first.click()
    flags = page.locator("tr[data-submission]").filter(has_text=SME_3).locator("td.review-flags")
    expect(flags).to_contain_text(f"评分不足 {PANEL} 份")
    expect(page.locator("main")).to_contain_text("评分不足 5 个，按算术平均")
    admin("初赛排名（缺一份评分）")
    score(tab_of(replacement), SME_3, replacement)

    # 5. every score in: 选前 N 名 per category and the advance in one move
    clicks_before_rank = click.count
    click(page.get_by_role("link", name="初赛排名").first)
    expect(flags).not_to_contain_text("评分不足")
    admin("初赛排名")
    ticked = choose_top(admin, click, "初赛", TOP_PRELIMINARY)
    advance(admin, click, "初赛", "advance", sum(TOP_PRELIMINARY.values()))
    clicks_rank_advance = click.count - clicks_before_rank
    finalists = [n for names in ticked.values() for n in names]
    with app.app_context():
        states = {n: submission_of(n).state for n in CLUSTERS}
    assert {n for n, s in states.items() if s == "finalist"} == set(finalists), states
    assert {n for n, s in states.items() if s == "preliminary"} == set(CLUSTERS) - set(finalists), states

    # 6. the paper: 评审结果汇总表 (ranking page) and a 专家评分表 (board)
    page.get_by_role("link", name="初赛排名").first.click()
    download_pdf(page, page.get_by_role("link", name="先进制造业集群评审结果汇总表 PDF"))
    download_pdf(page, page.get_by_role("link", name="中小企业特色产业集群评审结果汇总表 PDF"))
    page.get_by_role("link", name="初赛指派与进度").first.click()
    download_pdf(page, page.get_by_role("link", name=re.compile("的专家评分表 PDF")).first)

    # 7. 决赛: the finalists' reports are in (the applicants' part), a 现场答辩 dimension, assign, score
    with app.app_context():
        for name in finalists:
            into_final(submission_of(name))
    final_scheme_with_hearing(admin)
    auto_assign(admin, click, "决赛")
    final = assignments(app, "final")
    assert sorted(final) == sorted(finalists) and all(len(v) == PANEL for v in final.values()), final
    for username, names in sorted(per_expert(final).items()):
        for cluster in names:
            score(tab_of(username), cluster, username)

    # 8. recognised from the ranking; the result list with the final score
    page.get_by_role("link", name="决赛排名").first.click()
    awarded = [n for names in choose_top(admin, click, "决赛", TOP_FINAL).values() for n in names]
    advance(admin, click, "决赛", "award", len(awarded))
    nav(page, "结果名单")
    expect(page.locator("main")).to_contain_text("决赛得分")
    for name in awarded:
        row = page.locator("tr").filter(has=page.get_by_role("link", name=name, exact=True))
        expect(row.locator("td.result-score")).to_have_text(re.compile(r"^\d+\.\d\d$"))
    admin.tab.shot("结果名单")

    print(f"\nadministrator's clicks: assign {clicks_assign} (board, 自动指派), "
          f"rank → advance {clicks_rank_advance} (ranking, 选前 N 名, 执行并冻结排名); "
          f"assign → rank → advance {clicks_assign + clicks_rank_advance}")
    problems = [p for checker in tabs.values() for p in checker.problems]
    pages = sum(checker.pages for checker in tabs.values())
    assert not problems, f"{len(problems)} problems on {pages} pages:\n" + "\n".join(problems)


def user_named_display(app, username):
    with app.app_context():
        user = user_named(username)
        return user.display_name or user.username
