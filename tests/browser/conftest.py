"""Browser fixtures: Debian's chromium (its headless shell) driven by Playwright against the app
under a live threaded WSGI server.  Runs on SQLite only; when chromium-headless-shell or
the playwright package is missing the tests skip with the reason, and fail under CI=true
(tests/tools.py; CI installs chromium-headless-shell with apt; Playwright's own browser download is
not used).  No timing assertions: every check waits with expect()'s auto-retry.

`tab` is a logged-out tab at 1366×900 (tests/browserkit.py); `new_tab(viewport=...)` opens more
(a second user, the phone width).  Screenshots are taken only when
$WIZARD_SHOTS_DIR is set, into $WIZARD_SHOTS_DIR/<test name>/."""
import threading

import pytest
from werkzeug.serving import make_server

from browserkit import WAIT_MS, Tab, expect, shots_dir_for, sync_api
from tools import CHROMIUM, require


@pytest.fixture(scope="session")
def chromium():
    """One chromium for the whole run (a fresh context per test)."""
    require("playwright")
    require("chromium")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        expect.set_options(timeout=WAIT_MS)
        yield browser
        browser.close()


@pytest.fixture
def live(app, people):
    """The SQLite app under a real threaded server on a free port; yields its base URL."""
    if app.config["BACKEND"] != "sqlite":
        pytest.skip("browser tests run on SQLite only")
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    thread.join(timeout=30)


@pytest.fixture
def new_tab(chromium, live, request):
    """Opens tabs (each its own cookies) that are closed, with a last screenshot, after the test."""
    tabs = []
    shots = shots_dir_for(request)

    def open_tab(viewport=None, **context_options):
        sub = shots / f"tab{len(tabs) + 1}" if shots and tabs else shots
        if sub:
            sub.mkdir(parents=True, exist_ok=True)
        tabs.append(Tab(chromium, live, sub, viewport=viewport, **context_options))
        return tabs[-1]

    yield open_tab
    for t in tabs:
        t.close()


@pytest.fixture
def tab(new_tab):
    return new_tab()
