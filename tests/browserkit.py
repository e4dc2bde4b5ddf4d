"""What browser tests share (tests/browser/): the wait, Playwright's expect,
and a Tab — one browser tab with its own cookies that accepts dialogs and saves screenshots.

Playwright is optional at import: without it `sync_api` is None and the `chromium` fixture
(tests/browser/conftest.py) skips with the reason (fails under CI=true; tests/tools.py)."""
import os
import re
from pathlib import Path

from factories import ALLOY, PASSWORD, submission_of
from wizard.evidence.storage import files_of

try:
    from playwright import sync_api
    expect = sync_api.expect
except ImportError:  # pragma: no cover - the test extras install playwright
    sync_api = expect = None

WAIT_MS = 30_000  # generous: a slow, busy CI machine; expect() returns as soon as the condition holds
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def shots_dir_for(request):
    """$WIZARD_SHOTS_DIR/<test name>/ when set (the artifacts folder), else None: no screenshots
    (a full-page screenshot costs a second or more of a busy machine and asserts nothing)."""
    root = os.environ.get("WIZARD_SHOTS_DIR")
    if not root:
        return None
    folder = Path(root) / re.sub(r"\W+", "-", request.node.name).strip("-")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Tab:
    """A browser tab with its own cookies; records dialogs (all accepted) and saves screenshots."""

    def __init__(self, browser, base, shots_dir, viewport=None, **context_options):
        self.context = browser.new_context(locale="zh-CN", viewport=viewport or DESKTOP, **context_options)
        self.context.set_default_timeout(WAIT_MS)
        self.context.set_default_navigation_timeout(WAIT_MS)
        self.page = self.context.new_page()
        self.base, self.shots_dir, self.shots = base, shots_dir, 0
        self.dialogs = []
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog):
        self.dialogs.append((dialog.type, dialog.message))
        dialog.accept()

    def goto(self, path):
        self.page.goto(self.base + path)
        self.shot("visit" + re.sub(r"\W+", "-", path).rstrip("-"))
        return self.page

    def shot(self, name):
        """Not asserted: a picture of the page for whoever reads the artifacts or debugs a failure
        (taken only when $WIZARD_SHOTS_DIR is set).  A screenshot that times out on a busy machine
        never decides a test's outcome."""
        if self.shots_dir is None:
            return
        self.shots += 1
        try:
            self.page.screenshot(path=str(self.shots_dir / f"{self.shots:03d}-{name}.png"), full_page=True)
        except sync_api.TimeoutError:
            print(f"screenshot {name} timed out (not a test failure)")

    def login(self, username):
        page = self.goto("/login")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page).not_to_have_url(re.compile(r"/login"))
        self.shot(f"logged-in-{username}")
        return page

    def close(self):
        try:
            self.shot("last")  # where the test ended, passed or failed
        except sync_api.Error:  # a closed or crashed page: a screenshot never decides the outcome
            pass
        self.context.close()


def with_page_clock(tab):
    """Playwright's clock in the tab's pages (installed before the next page loads; time still
    flows), so that `pause(page)` can skip a wait the page makes on purpose."""
    tab.context.clock.install()
    return tab


def pause(page, seconds=60):
    """The user stops for a while (a minute by default): the page's clock jumps ahead and the timers
    that fall due run now (autosave's pause after the last keystroke, the local copy's), instead of
    the test waiting for them in real seconds.  What they do — the request, the page's message —
    still happens and is still waited for with expect()."""
    page.clock.fast_forward(seconds * 1000)


def stored_files(app):
    with app.app_context():
        return [(f.slot, f.original_name, f.pages) for f in files_of(submission_of(ALLOY), "preliminary")]
