"""At a phone's width (390×844): no page of any role scrolls sideways, the indicator and park
grids keep their year inputs and 上传 buttons on the screen (their label above the inputs, or the
grid scrolling inside its own box), and a wizard step shows its form before the step list.
Fixtures in tests/browser/conftest.py; the tour of every page in tests/browser/axe.py."""
from browserkit import DESKTOP, PHONE, expect
from factories import user_named
from wizard.extensions import db
from browser.axe import sideways, slug, tour_world, walk_tour


def test_no_page_of_any_role_scrolls_sideways_on_a_phone(app, new_tab):
    ids = tour_world(app)
    wide = []

    def check(tab, name):
        tab.shot(slug(name))
        problem = sideways(tab.page)
        if problem:
            wide.append(f"{name} ({tab.page.url}): {problem}")

    walk_tour(new_tab, ids, check, viewport=PHONE)
    assert not wide, "pages wider than the phone:\n" + "\n".join(wide)


def box(locator):
    locator.scroll_into_view_if_needed()
    return locator.bounding_box()


def on_screen(page, locator):
    """The element is within the viewport's width once scrolled to (its own box's scroll counts)."""
    b = box(locator)
    return b["x"] >= 0 and b["x"] + b["width"] <= page.viewport_size["width"] + 0.5


def test_indicator_and_park_grids_keep_inputs_and_upload_on_screen(app, new_tab):
    tab = new_tab(viewport=PHONE)
    tab.login("applicant-a")
    page = tab.page
    page.locator("ol.task-list").get_by_role("link", name="经济指标").click()
    for name in ("revenue", "listed_enterprises"):
        for year in ("y1", "y2"):
            field = page.locator(f"#{name}-{year}")
            assert on_screen(page, field), f"{name} {year} is off-screen"
            label = page.locator(f"#f-{name} th[scope=row]")
            assert box(label)["y"] + box(label)["height"] <= box(field)["y"] + 1, "the label is not above the input"
    upload = page.locator("#ev-listed_enterprises").get_by_role("button", name="上传", exact=True)
    assert on_screen(page, upload)
    page.locator("#revenue-y1").fill("100")
    page.locator("#revenue-y2").fill("125.5")
    expect(page.locator("#f-revenue td.growth output")).to_have_text("25.50")
    tab.shot("indicators")
    assert sideways(page) is None, sideways(page)


def test_a_step_shows_its_form_before_the_step_list_on_a_phone(new_tab):
    for viewport in (PHONE, DESKTOP):
        tab = new_tab(viewport=viewport)
        tab.login("applicant-a")
        page = tab.page
        page.locator("ol.task-list").get_by_role("link", name="基本信息").click()
        # measured once the step page has loaded with its stylesheet (a layout read earlier may be
        # the one before the CSS applies: everything stacked at the left margin)
        page.wait_for_url("**/applicant/step/basic")
        page.wait_for_load_state("load")
        heading = page.get_by_role("heading", level=1)
        steps = page.get_by_role("navigation", name="填报步骤")
        expect(steps).to_be_visible()
        if viewport is PHONE:
            # the step's heading and its first field are on the first screen, the steps follow
            assert heading.bounding_box()["y"] < steps.bounding_box()["y"]
            first = page.locator("form input[type=text], form textarea").first
            assert first.bounding_box()["y"] < PHONE["height"], "the form does not start on the first screen"
        else:
            assert steps.bounding_box()["x"] < heading.bounding_box()["x"], "the step list is beside the form"
        expect(steps.get_by_role("link", name="检查与提交")).to_be_visible()
        tab.shot(f"step-basic-{viewport['width']}")


def test_the_administrators_header_fits_on_one_line_at_1366(app, new_tab):
    with app.app_context():  # a real office's name, as administrators' accounts carry
        user_named("admin").display_name = "省工业和信息化厅产业集群处"
        db.session.commit()
    tab = new_tab(viewport=DESKTOP)
    page = tab.login("admin")
    header = page.locator("header")
    parts = [page.get_by_role("link", name="湖南省产业集群竞赛申报系统"),
             *page.get_by_role("navigation", name="主导航").get_by_role("link").all(),
             page.get_by_role("link", name="修改密码"), page.get_by_role("button", name="退出")]
    assert len(parts) >= 10
    middles = [b["y"] + b["height"] / 2 for b in (p.bounding_box() for p in parts)]
    assert max(middles) - min(middles) < 8, f"the header wraps: {middles}"
    assert header.bounding_box()["height"] < 70
    tab.shot("admin-header")
