"""What the phone, accessibility and journey tests check on every page (tests/browser/):

- `sideways(page)`: the page does not scroll sideways (scrollWidth within the viewport), else the
  elements that stick out;
- `serious_violations(page)`: axe-core's serious and critical violations.  axe-core comes from
  the npm package (tests/browser/install-axe.sh puts it in tests/browser/node_modules, which the
  app never serves); it is injected into a tab opened with ``bypass_csp=True`` so the app's own
  Content-Security-Policy stays as it is.  `need_axe()` skips, with the reason, when it is absent (fails under CI=true: tests/tools.py);
- `Checker`: one call per page — screenshots at 1366 and at 390 px (the same tab, resized, so a
  one-time message is still on the page), the sideways check at 390, axe at both widths;
- `tour_world(app)` and `TOUR`: every page of every role, with data that fills them.

Imported as ``browser.axe`` (tests/ is on the path; --import-mode=importlib)."""
import re
import weakref

from browserkit import DESKTOP, PHONE
from factories import ALLOY, LINXIANG, SMART_CAR, attach_declarations, make_user, submission_of, user_named
from fill import complete_answers
from tools import AXE_JS, require
from wizard.extensions import db
from wizard.models import Snapshot
from wizard.report.definition import get_report
from wizard.workflow.moves import apply_move

SERIOUS = ("serious", "critical")

# One round trip: null when the page fits the viewport's width, else the scrollWidth and what
# sticks out.
_SIDEWAYS_JS = """(width) => {
  const scroll = document.documentElement.scrollWidth;
  if (scroll <= width) return null;
  const out = [];
  const scrolls = (el) => {  // inside a box that scrolls sideways on its own: not the page's width
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement)
      if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX)) return true;
    return false;
  };
  for (const el of document.querySelectorAll('body *')) {
    if (scrolls(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.width && r.right > width + 0.5) {
      const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
        + (el.classList.length ? '.' + [...el.classList].join('.') : '');
      out.push(name + ' → ' + Math.round(r.right) + 'px');
    }
  }
  return {scroll, offenders: out.slice(-8)};  // the innermost ones come last
}"""

# laid out and painted at the new width (two frames), then the sideways check: one round trip
_SIDEWAYS_AFTER_FRAMES_JS = f"""(width) => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(
  () => r(({_SIDEWAYS_JS})(width)))))"""

# null when axe-core is not on the page yet (one round trip when it is: the usual case, as the
# context injects it into every page it loads once it has been injected once)
_AXE_RUN_JS = """async (levels) => {
  if (typeof window.axe === 'undefined') return null;
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.filter(v => levels.includes(v.impact)).map(v =>
    `${v.impact} ${v.id}: ${v.help} — ` + v.nodes.slice(0, 4).map(n => n.target.join(' ')).join(' | '));
}"""


def need_axe():
    """The axe-core source, or skip the test with the reason (under CI=true: fail it)."""
    require("axe-core")
    return AXE_JS.read_text(encoding="utf-8")


def _sideways_text(found, width):
    if found is None:
        return None
    return f"scrollWidth {found['scroll']} > {width}: " + "; ".join(found["offenders"])


def sideways(page, after_frames=False):
    """None when the page fits its viewport's width, else what sticks out (one round trip;
    ``after_frames``: first wait two frames, as after a resize)."""
    width = page.viewport_size["width"]
    return _sideways_text(page.evaluate(_SIDEWAYS_AFTER_FRAMES_JS if after_frames else _SIDEWAYS_JS, width), width)


_AXE_CONTEXTS = weakref.WeakSet()  # browser contexts that inject axe-core into every page they load


def serious_violations(page, source):
    """axe-core's serious and critical violations on the page, one line each.  The first call in a
    tab injects axe-core into the page and registers it as the context's init script, so the pages
    loaded afterwards carry it from the start (no 550 kB sent again per page)."""
    found = page.evaluate(_AXE_RUN_JS, list(SERIOUS))
    if found is None:
        if page.context not in _AXE_CONTEXTS:
            page.context.add_init_script(source)
            _AXE_CONTEXTS.add(page.context)
        page.add_script_tag(content=source)
        found = page.evaluate(_AXE_RUN_JS, list(SERIOUS))
    return found


def slug(text):
    return re.sub(r"\W+", "-", text).strip("-")[:60] or "page"


class Checker:
    """Checks every page a test passes through, at both widths, and collects what fails
    (``problems``) so one run reports every page at once; ``assert_clean()`` at the end."""

    def __init__(self, tab, axe_source=None, phone=True):
        self.tab, self.axe_source, self.phone = tab, axe_source, phone
        self.problems, self.pages = [], 0

    def __call__(self, name):
        page, where = self.tab.page, f"{name} ({self.tab.page.url})"
        page.wait_for_load_state("load")
        self.pages += 1
        self.tab.shot(f"{slug(name)}-1366")
        self._axe(where + " at 1366")
        if self.phone:
            page.set_viewport_size(PHONE)
            try:
                wide = sideways(page, after_frames=True)  # laid out and painted at the new width
                self.tab.shot(f"{slug(name)}-390")
                if wide:
                    self.problems.append(f"{where} at 390: {wide}")
                self._axe(where + " at 390")
            finally:
                page.set_viewport_size(DESKTOP)
        return page

    def _axe(self, where):
        if self.axe_source:
            self.problems += [f"{where}: {v}" for v in serious_violations(self.tab.page, self.axe_source)]

    def assert_clean(self):
        assert not self.problems, f"{len(self.problems)} problems on {self.pages} pages:\n" + "\n".join(self.problems)


# --- every page of every role ---------------------------------------------------------------

FINALIST = "applicant-c"  # 长沙智能汽车产业集群, a finalist filling 附件2


def _move(sub, key, username, comment=None):
    apply_move(sub, key, user_named(username), comment=comment)


def tour_world(app):
    """applicant-b (临湘, draft) half-way through 附件1; applicant-a's 长沙新型合金 awarded after both
    rounds; applicant-c's 长沙智能汽车 a finalist (its 附件2 steps editable).  Returns the ids the
    tour's URLs need.  Needs the `people` fixture."""
    with app.app_context():
        make_user(FINALIST, "applicant", cluster=SMART_CAR)
        draft = submission_of(LINXIANG)
        draft.preliminary_answers = {k: v for k, v in complete_answers("preliminary", draft.cluster.category).items()
                                     if k in {f.key for f in get_report("preliminary").steps[1].fields}}
        db.session.commit()
        awarded = _through_both_rounds(submission_of(ALLOY), "applicant-a")
        finalist = _to_finalist(submission_of(SMART_CAR), FINALIST)
        snap = db.session.execute(db.select(Snapshot.id).filter_by(submission_id=awarded.id)
                                  .order_by(Snapshot.id.desc())).scalars().first()
        return {"awarded": awarded.id, "finalist": finalist.id, "snapshot": snap,
                "applicant": user_named("applicant-a").id, "cluster": awarded.cluster_id}


def _to_finalist(sub, applicant):
    sub.preliminary_answers = complete_answers("preliminary", sub.cluster.category)
    db.session.commit()
    attach_declarations(sub, rounds=("preliminary",))
    _move(sub, "submit", applicant)
    _move(sub, "county_approve", "county-x", "经审核，同意推荐。")
    _move(sub, "accept", "admin")
    _move(sub, "advance", "admin")
    return sub


def _through_both_rounds(sub, applicant):
    _to_finalist(sub, applicant)
    sub.final_answers = complete_answers("final", sub.cluster.category)
    if hasattr(sub, "carried_texts"):  # the carried-over narratives count as checked for 附件2
        sub.carried_texts = []
    db.session.commit()
    attach_declarations(sub, rounds=("final",))
    _move(sub, "submit_final", applicant)
    _move(sub, "county_approve_final", "county-x", "经审核，同意推荐参加决赛。")
    _move(sub, "enter_final", "admin")
    _move(sub, "award", "admin")
    return sub


def tour(ids):
    """(username, [(name, path)]) for every page of every role; steps come from the definition."""
    prelim = [(f"附件1 {s.title}", f"/applicant/step/{s.key}") for s in get_report("preliminary").steps]
    final = [(f"附件2 {s.title}", f"/applicant/step/{s.key}") for s in get_report("final").steps]
    common = [("消息", "/messages"), ("修改密码", "/account/password")]
    return [
        (None, [("登录", "/login")]),
        ("applicant-b", [("填报任务", "/applicant/"), *prelim, ("检查与提交", "/applicant/review"),
                         ("办理记录", "/applicant/history"), *common, ("无权限", "/admin/"),
                         ("页面不存在", "/admin/submissions/999999")]),
        (FINALIST, [("决赛填报任务", "/applicant/"), *final, ("决赛检查与提交", "/applicant/review")]),
        ("applicant-a", [("已认定的任务", "/applicant/"), ("已提交的报告", "/applicant/submitted"),
                         ("办理记录（全部）", "/applicant/history"), ("消息（多条）", "/messages")]),
        ("county-x", [("审核队列", "/county/"), ("审核页（已认定）", f"/county/submissions/{ids['awarded']}"),
                      ("审核页（入围决赛）", f"/county/submissions/{ids['finalist']}"), *common]),
        ("admin", [("总览", "/admin/"), ("申报管理", "/admin/submissions"),
                   ("申报详情", f"/admin/submissions/{ids['awarded']}"),
                   ("两轮比较", f"/admin/submissions/{ids['awarded']}/compare"),
                   ("集群", "/admin/clusters"), ("集群详情", f"/admin/clusters/{ids['cluster']}"),
                   ("新建集群", "/admin/clusters/new"), ("账号", "/admin/accounts"),
                   ("账号详情", f"/admin/accounts/{ids['applicant']}"), ("新建账号", "/admin/accounts/new"),
                   ("结果名单", "/admin/results"), ("报告快照", f"/admin/snapshots/{ids['snapshot']}"),
                   ("报告核验", "/admin/verify/"), ("操作日志", "/admin/audit/"), *common]),
    ]


def walk_tour(new_tab, ids, check_page, viewport=None, **options):
    """Visit every page of the tour in a fresh tab per role; ``check_page(tab, name)`` on each."""
    for username, pages in tour(ids):
        tab = new_tab(viewport=viewport, **options)
        if username:
            tab.login(username)
        for name, path in pages:
            tab.page.goto(tab.base + path)
            check_page(tab, f"{username or 'anonymous'} {name}")
