"""The phone with real names (issue #23 item 4): at 390 px every role's pages fit with the longest
cluster names of 附件3 and a long display name; the header's name wraps, 修改密码 and 退出 are
44 × 44 px targets, a step page offers a compact step switcher at its top, and a table that
scrolls inside its box says so."""
import re

from browserkit import PHONE, expect
from browser.axe import sideways, slug, tour_world, walk_tour
from factories import ALLOY, LINXIANG, SMART_CAR, cluster_named
from wizard.extensions import db
from wizard.models import User
from wizard.ops.data.clusters import FIRST_BATCH

LONGEST = sorted((name for name, _, _ in FIRST_BATCH), key=len, reverse=True)
LONG_DISPLAY = "长沙新型合金材料产业集群促进会秘书处综合协调部副部长欧阳晓明"


def rename(app, names):
    """The named clusters take the longest names of 附件3; every account a long display name."""
    with app.app_context():
        for cluster, name in zip([cluster_named(n) for n in names], LONGEST):
            cluster.name = name + "（测试）"
        for user in db.session.execute(db.select(User)).scalars():
            user.display_name = LONG_DISPLAY
        db.session.commit()


TARGETS = (("修改密码", ".user-box a"), ("退出", ".user-box .btn-link"))
#: each target's width and height on the page (the first match; null when the page has none): one
#: round trip for the page instead of two a target
_TARGET_SIZES_JS = """(targets) => targets.map(([name, selector]) => {
  const e = document.querySelector(selector);
  if (!e) return null;
  const r = e.getBoundingClientRect();
  return [name, r.width, r.height];
})"""


def targets_too_small(page):
    """修改密码 and 退出 smaller than 44 × 44 px (WCAG 2.5.5)."""
    return [f"{name} {width:.0f}×{height:.0f}"
            for name, width, height in filter(None, page.evaluate(_TARGET_SIZES_JS, [list(t) for t in TARGETS]))
            if width < 44 or height < 44]


def test_every_role_fits_a_phone_with_the_longest_names(app, new_tab):
    ids = tour_world(app)
    rename(app, (ALLOY, LINXIANG, SMART_CAR))
    problems = []

    def check(tab, name):
        tab.shot(slug(name))
        wide = sideways(tab.page)
        small = targets_too_small(tab.page)
        if wide or small:
            problems.append(f"{name}: {wide or ''} {'; '.join(small)}")

    walk_tour(new_tab, ids, check, viewport=PHONE)
    assert not problems, "\n".join(problems)


def test_a_step_on_a_phone_has_a_switcher_a_wrapping_header_and_a_scroll_hint(app, new_tab):
    rename(app, (ALLOY,))
    tab = new_tab(viewport=PHONE)
    tab.login("applicant-a")
    page = tab.goto("/applicant/step/indicators")
    name = page.locator(".user-box > span")
    box = name.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box  # wraps instead
    switcher = page.locator("details.step-switcher")
    expect(switcher).to_be_visible()
    assert switcher.bounding_box()["y"] < page.get_by_role("heading", level=1).bounding_box()["y"]
    expect(switcher.locator("summary")).to_contain_text("第 2 步，共")
    switcher.locator("summary").click()
    switcher.get_by_role("link", name="创新").click()
    expect(page).to_have_url(tab.base + "/applicant/step/innovation")
    page = tab.goto("/applicant/step/indicators")
    top10 = page.locator('table[data-table="top10"]')
    expect(top10).to_have_class(re.compile(r"\bscrolls\b"))  # the table scrolls inside its box, with a shadow
    expect(page.locator("#f-top10 .scroll-hint")).to_contain_text("左右滑动")
    delete = top10.get_by_role("button", name=re.compile("删除")).first
    delete.scroll_into_view_if_needed()  # the 删除 column is reached by scrolling the box
    b = delete.bounding_box()
    assert b["x"] >= 0 and b["x"] + b["width"] <= PHONE["width"], b
    tab.shot("phone-step")
