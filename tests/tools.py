"""The outside tools some tests need — Debian packages, npm's axe-core, the playwright package — in
one place: what each is, how to install it, and what a test does when it is missing.

Locally a missing tool SKIPS the test (the closing summary of the run lists every skip and why).
Under CI=true (what .ci/run sets) a missing tool FAILS the test with a line naming the tool and its
install command, and the closing summary says which tools were missing: a green CI can never mean
that the PDF, browser, accessibility or LibreOffice checks did not run.

    @pytest.mark.needs("poppler-utils")      # the test needs the tool (checked before it runs)
    require("chromium")                      # the same, inside a fixture or a test
    if have("poppler-utils"): ...            # an extra check where the tool exists; in CI it must

Imported as ``tools`` (tests/ is on the path)."""
import functools
import importlib.util
import os
import shutil
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
MISSING = "missing tool"  # the start of every skip or failure reason below; the summary groups by it
# Debian's headless shell: the same Chromium build as the chromium package, without the desktop
# browser around it (what Playwright itself runs for headless tests).  Measured on these machines,
# the browser family at -n 4: 480 -> 279 s of CPU, 250 -> 151 s of wall time.
CHROMIUM = "/usr/lib/chromium/chromium-headless-shell"  # the binary (/usr/bin/...: a sh wrapper, no exec)
AXE_JS = Path(__file__).resolve().parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"
UMING = "/usr/share/fonts/truetype/arphic/uming.ttc"
MICROHEI = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"


def _cjk_font():
    from wizard.pdf.fonts import find_cjk_font

    return find_cjk_font() is not None


# name -> (what it is, how to install it, how to tell it is there)
TOOLS = {
    "chromium": (f"Debian's chromium headless shell at {CHROMIUM}", "apt-get install chromium-headless-shell",
                 lambda: os.path.exists(CHROMIUM)),
    "playwright": ("the playwright Python package", "pip install -e '.[test]'",
                   lambda: importlib.util.find_spec("playwright") is not None),
    "axe-core": ("axe-core at tests/browser/node_modules/axe-core/axe.min.js", "tests/browser/install-axe.sh (npm)",
                 AXE_JS.exists),
    "poppler-utils": ("pdftoppm, pdftotext and pdffonts", "apt-get install poppler-utils",
                      lambda: all(shutil.which(t) for t in ("pdftoppm", "pdftotext", "pdffonts"))),
    "fonts-arphic-uming": (f"the AR PL UMing font at {UMING}", "apt-get install fonts-arphic-uming",
                           lambda: os.path.exists(UMING)),
    "fonts-wqy-microhei": (f"the WenQuanYi Micro Hei font at {MICROHEI}", "apt-get install fonts-wqy-microhei",
                           lambda: os.path.exists(MICROHEI)),
    "cjk-font": ("a Chinese TrueType font the PDF engine finds", "apt-get install fonts-arphic-uming", _cjk_font),
    "redis-server": ("Debian's redis-server (the render queue's shared storage)", "apt-get install redis-server",
                     lambda: shutil.which("redis-server") is not None),
    "libreoffice": ("LibreOffice (soffice)", "apt-get install libreoffice-calc-nogui",
                    lambda: shutil.which("soffice") is not None),
}


@functools.cache
def present(tool):
    """Whether the tool is on this machine (no skip, no failure)."""
    return bool(TOOLS[tool][2]())


def reason(tool):
    what, install, _ = TOOLS[tool]
    return f"{MISSING}: {tool} — {what} is not installed ({install})"


def require(tool):
    """Return when the tool is there; otherwise skip the test, or under CI=true fail it."""
    if present(tool):
        return
    if IN_CI:
        pytest.fail(reason(tool) + "; CI=true, so this is a failure, not a skip", pytrace=False)
    pytest.skip(reason(tool))


def have(tool):
    """For an optional extra check: True when the tool is there; False locally when it is not;
    under CI=true a missing tool fails the test (CI has every tool, so the extra check must run)."""
    if not present(tool) and IN_CI:
        require(tool)
    return present(tool)


def missing_tool_of(text):
    """The tool named by a skip or failure reason made by require(), else None."""
    if MISSING not in (text or ""):
        return None
    rest = text.split(f"{MISSING}: ", 1)[-1]
    return rest.split(" ", 1)[0]
