"""The result list has one name (issue 23, item 7): the page's heading and the title its tab shows
are the same, 附件3's title (exports/results.RESULT_TITLE); the menu and the dashboard both link
to it by the same words."""
import html
import re

from wizard.exports.results import RESULT_TITLE


def tag_text(page, tag):
    return [html.unescape(re.sub(r"<[^>]+>", "", m)).strip() for m in re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", page, re.S)]


def links_to(page, href):
    return {html.unescape(re.sub(r"<[^>]+>", "", m)).strip()
            for m in re.findall(rf'<a [^>]*href="{re.escape(href)}"[^>]*>(.*?)</a>', page, re.S)}


def test_the_result_list_has_one_heading_and_one_link_text(client, auth, people):
    auth.login("admin")
    page = client.get("/admin/results").get_data(as_text=True)
    heading = RESULT_TITLE.format(batch="第一批")
    assert tag_text(page, "h1") == [heading]
    assert tag_text(page, "title")[0].split(" - ")[0] == heading  # the tab says what the page says
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert links_to(dashboard, "/admin/results") == {"结果名单"}  # the menu's link and the dashboard's
    assert links_to(page, "/admin/results") == {"结果名单"}  # the menu on the list itself
