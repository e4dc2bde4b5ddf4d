"""The administrator's dashboard warns when PDFs are made without an embedded Chinese font, from
what the render consumer's last render recorded (no page worker loads the PDF engine for it)."""
from dataclasses import replace

from rendering import LONG, fill_alloy, renders, until
from wizard.pdf.queue import record_result
from wizard.pdf.report import render_queue

WARNING = "未找到可嵌入的中文字体"


def test_the_dashboard_says_what_font_the_last_render_used(app, client, auth, people):
    fill_alloy(app)
    app.config["PDF_WAIT_SECONDS"] = LONG
    auth.login("applicant-a")
    assert client.get("/applicant/report.pdf").status_code == 200  # a real render by the consumer
    until(lambda: renders(app))  # the consumer records the render just after the file is in place
    [done] = renders(app)
    assert done.font_message == ""  # this machine has fonts-arphic-uming: embedded
    auth.logout()
    auth.login("admin")
    assert WARNING not in client.get("/admin/").get_data(as_text=True)
    message = WARNING + "，PDF 使用非嵌入的 STSong-Light 字体。"  # as fonts.register_cjk_fonts says it
    with app.app_context():  # a consumer on a machine without the font reports its fallback
        record_result(render_queue(), replace(done, font_message=message))
    try:
        page = client.get("/admin/").get_data(as_text=True)
        assert WARNING in page and "Traceback" not in page
    finally:
        with app.app_context():  # the worker's queue is shared by later tests: the last render embedded again
            record_result(render_queue(), done)
    assert WARNING not in client.get("/admin/").get_data(as_text=True)
