"""How many clicks attaching the evidence of 附件1 takes slot by slot, on each step (issue 23,
item 2: 57 clicks for 14 files before; the journey, test_journey.py, measures attaching them all at
once on 检查与提交).  The report is complete but for its files; the applicant opens each step that
misses files from the task list and, in each slot, presses 选择文件, chooses a PDF and presses
上传 (no page reload: the uploaded file shows in its slot)."""
from browser.test_journey import CLICK_COUNTER, attach_missing, needed_slots
from browserkit import expect
from factories import ALLOY, submission_of
from fill import complete_answers
from wizard.extensions import db
from wizard.report.definition import get_report


def test_attaching_every_file_slot_by_slot_costs_two_clicks_a_file_and_one_a_step(app, tab):
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = complete_answers("preliminary")
        db.session.commit()
        category = sub.cluster.category
    tab.context.add_init_script(CLICK_COUNTER)
    page = tab.login("applicant-a")
    page = tab.goto("/applicant/")
    start = page.evaluate("() => +(sessionStorage.getItem('journey-clicks') || 0)")
    files = steps = 0
    for step in get_report("preliminary").steps:
        slots = needed_slots(app, "preliminary", step.key, category)
        if not slots:
            continue
        page.locator("ol.task-list").get_by_role("link", name=step.title, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(step.title)
        files += attach_missing(page, slots)
        steps += 1
        page.get_by_role("navigation", name="主导航").get_by_role("link", name="填报任务").click()
        expect(page.locator("ol.task-list")).to_be_visible()
    clicks = page.evaluate("() => +(sessionStorage.getItem('journey-clicks') || 0)") - start
    print(f"\nattaching {files} files slot by slot on {steps} steps: {clicks} clicks plus choosing the files")
    assert files >= 14
    assert clicks <= 2 * files + 2 * steps, clicks  # 选择文件 + 上传 a file; a step there and back
    expect(page.locator("ol.task-list")).not_to_contain_text("份佐证材料")  # no step misses a file
