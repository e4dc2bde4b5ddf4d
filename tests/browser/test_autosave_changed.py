"""Issue #25: the browser's autosave sends the fields changed since the last save, and names them;
the server stores those alone (tests/report/test_page_speed.py holds the server's side)."""
from browserkit import expect, pause, with_page_clock
from factories import ALLOY, submission_of
from wizard.extensions import db


def test_autosave_sends_only_the_changed_field(app, tab):
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = {**(sub.preliminary_answers or {}), "region_scope": "长沙市、株洲市"}
        db.session.commit()
    tab.login("applicant-a")
    page = with_page_clock(tab).goto("/applicant/step/basic")
    sent = []
    page.on("request", lambda r: sent.append(r.post_data or "")
            if r.method == "POST" and r.headers.get("x-requested-with") == "fetch" else None)
    page.locator("#industry_field").fill("新材料（只发送改动）")
    pause(page)  # the autosave's pause after the last keystroke, without waiting for it
    expect(page.locator("form .autosave-status")).to_contain_text("已自动保存")
    assert len(sent) == 1
    body = sent[0]
    assert 'name="industry_field"' in body and "新材料（只发送改动）" in body
    assert 'name="region_scope"' not in body and "长沙市" not in body  # unchanged: not sent
    assert 'name="fields"\r\n\r\nindustry_field\r\n' in body and 'name="version"' in body
    with app.app_context():
        saved = submission_of(ALLOY).preliminary_answers
    assert saved["industry_field"] == "新材料（只发送改动）" and saved["region_scope"] == "长沙市、株洲市"
