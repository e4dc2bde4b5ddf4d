"""Configuration: defaults in code, overrides from instance/config.py and the environment.

Order (later wins): the defaults below, ``instance/config.py``, environment
variables (``WIZARD_*``, ``DATABASE_URL``, ``SECRET_KEY``), then the test override.
"""
import json
import os
import secrets
from datetime import timedelta
from functools import partial


class Defaults:
    # Production mode refuses to start without an explicit SECRET_KEY and
    # refuses demo data.  Set WIZARD_ENV=production in production.
    PRODUCTION = False
    SECRET_KEY = None
    SQLALCHEMY_DATABASE_URI = None  # filled in from DATABASE_URL or instance/
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    # JSON columns (the answers) hold Chinese as UTF-8, not six-byte \u escapes: half the bytes to
    # store, decode and write to the log
    # pool_pre_ping: a pooled connection that a database restart closed is replaced before use,
    # instead of failing the request that drew it
    SQLALCHEMY_ENGINE_OPTIONS = {"json_serializer": partial(json.dumps, ensure_ascii=False), "pool_pre_ping": True}

    # Sessions: HttpOnly + SameSite=Lax always, Secure when served over HTTPS.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    SESSION_IDLE_TIMEOUT = timedelta(hours=2)
    SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=12)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    # The cookie is signed and sent again only when the session changes (the login, the idle stamp
    # renewed at most once a minute by web/security.py, a message), not on every response: its
    # expiry, set at each change to PERMANENT_SESSION_LIFETIME, never falls before the absolute
    # timeout counted from the login, and the server checks both timeouts on every request.
    SESSION_REFRESH_EACH_REQUEST = False

    # The CSRF token lives as long as the session: no separate expiry.
    WTF_CSRF_TIME_LIMIT = None
    WTF_I18N_ENABLED = False  # WTForms' own messages come from its Chinese catalogue (wizard/web/forms.py)
    WTF_CSRF_SSL_STRICT = True

    # Uploads (evidence files): the request limit is a little above one file.
    MAX_CONTENT_LENGTH = 64 * 1024 * 1024  # one request: several evidence files at once
    UPLOAD_MAX_FILE_BYTES = 20 * 1024 * 1024
    UPLOAD_MAX_SUBMISSION_BYTES = 300 * 1024 * 1024
    UPLOAD_MAX_PDF_PAGES = 300
    UPLOAD_MAX_IMAGE_PIXELS = 40_000_000
    # Memory one image may need while it is decoded and scaled to A4 at 200 dpi (checked
    # from the header before decoding), and the size of images embedded in an uploaded PDF
    # (pixels × colour components, 16-bit components count double).
    UPLOAD_MAX_IMAGE_DECODE_BYTES = 128 * 1024 * 1024
    UPLOAD_MAX_PDF_IMAGE_COMPONENTS = 50_000_000
    UPLOAD_FOLDER = None  # default: instance/uploads

    # Login throttling (counts kept in the database, seen by every worker): failures per
    # (account, client address) pair and per client address; no account-wide lock.
    LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    LOGIN_MAX_FAILURES_PER_ADDRESS = 20
    LOGIN_THROTTLE_WINDOW = timedelta(minutes=15)
    # How many reverse proxies (nginx …) stand in front of the app and set X-Forwarded-For /
    # X-Forwarded-Proto.  0: the headers are ignored and the peer address is the client's.
    TRUSTED_PROXIES = 0
    PASSWORD_HASH_METHOD = "scrypt"
    # Accounts (issue #26): generated one-time passwords (账号通知书) must be changed at the first
    # login and expire this many days after they were issued.  They are random (≥ 80 bits), so a
    # fast hash suffices for them (onboarding 1,000 accounts in seconds, not minutes of scrypt);
    # every password a person chooses is hashed with PASSWORD_HASH_METHOD.
    ONE_TIME_PASSWORD_DAYS = 14
    ONE_TIME_PASSWORD_HASH_METHOD = "pbkdf2:sha256:10000"
    # the system's address printed on the account letters (default: the address of the request)
    PUBLIC_URL = None
    # whom to ask about an account: on the letters and when a one-time password has expired
    ACCOUNT_HELP = "湖南省工业和信息化厅产业集群竞赛工作组（省级管理员）"

    PDF_FONT_PATH = None
    PDF_CACHE_FOLDER = None  # default: instance/pdf-cache

    MAIL_SERVER = None  # SMTP off by default
    MAIL_PORT = 25
    MAIL_SENDER = "noreply@localhost"

    PAGE_SIZE = 20
    # PDF renders are jobs on a Huey queue (wizard/pdf/queue.py), rendered by `flask render-worker`
    # consumers, never in a page worker; a download waits this long for its render, then gets a
    # page that refreshes itself (docs/pdf-engine.md, docs/deployment.md)
    PDF_WAIT_SECONDS = 2
    RENDER_QUEUE_URL = None  # default: sqlite:///instance/render-queue.db; redis://host:6379/0 to share
    RENDER_PROCESSES = 1  # render processes per consumer (one job each at a time)
    RENDER_TIME_LIMIT = 300  # seconds one job may take in all (layout and binding), then it is stopped
    RENDER_MEMORY_MB = 0  # address-space limit of a render process (0: none)
    RENDER_ORPHAN_SECONDS = 30  # a render whose consumer is silent this long is queued again (once)
    PDF_CACHE_MAX_BYTES = 2048 * 1024 * 1024  # the PDF cache's total size; least recently used evicted
    # the applicant's filled Excel template (docs/excel-template.md)
    TEMPLATE_MAX_BYTES = 5 * 1024 * 1024


# Whole numbers from the environment (upload limits, proxies): (variable without WIZARD_, config key, unit)
NUMBER_OVERRIDES = (
    ("UPLOAD_MAX_FILE_MB", "UPLOAD_MAX_FILE_BYTES", 1024 * 1024),
    ("UPLOAD_MAX_SUBMISSION_MB", "UPLOAD_MAX_SUBMISSION_BYTES", 1024 * 1024),
    ("UPLOAD_MAX_REQUEST_MB", "MAX_CONTENT_LENGTH", 1024 * 1024),
    ("UPLOAD_MAX_PDF_PAGES", "UPLOAD_MAX_PDF_PAGES", 1),
    ("UPLOAD_MAX_IMAGE_PIXELS", "UPLOAD_MAX_IMAGE_PIXELS", 1),
    ("UPLOAD_MAX_IMAGE_DECODE_MB", "UPLOAD_MAX_IMAGE_DECODE_BYTES", 1024 * 1024),
    ("UPLOAD_MAX_PDF_IMAGE_COMPONENTS", "UPLOAD_MAX_PDF_IMAGE_COMPONENTS", 1),
    ("TRUSTED_PROXIES", "TRUSTED_PROXIES", 1),
    ("TEMPLATE_MAX_MB", "TEMPLATE_MAX_BYTES", 1024 * 1024),
    ("RENDER_PROCESSES", "RENDER_PROCESSES", 1),
    ("RENDER_TIME_LIMIT", "RENDER_TIME_LIMIT", 1),
    ("RENDER_MEMORY_MB", "RENDER_MEMORY_MB", 1),
    ("PDF_CACHE_MAX_MB", "PDF_CACHE_MAX_BYTES", 1024 * 1024),
    ("PDF_WAIT_SECONDS", "PDF_WAIT_SECONDS", 1),
    ("ONE_TIME_PASSWORD_DAYS", "ONE_TIME_PASSWORD_DAYS", 1),
)


def _truthy(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_config(app, test_config=None):
    """Fill app.config from defaults, instance/config.py, environment and tests."""
    app.config.from_object(Defaults)
    app.config.from_pyfile("config.py", silent=True)
    env = os.environ
    if env.get("WIZARD_ENV", "").lower() == "production":
        app.config["PRODUCTION"] = True
    if env.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = env["SECRET_KEY"]
    if env.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = normalise_db_url(env["DATABASE_URL"])
    for name in ("SESSION_COOKIE_SECURE",):
        if f"WIZARD_{name}" in env:
            app.config[name] = _truthy(env[f"WIZARD_{name}"])
    for name in ("PDF_FONT_PATH", "UPLOAD_FOLDER", "MAIL_SERVER", "PUBLIC_URL", "ACCOUNT_HELP", "RENDER_QUEUE_URL"):
        if env.get(f"WIZARD_{name}"):
            app.config[name] = env[f"WIZARD_{name}"]
    for name, config_key, scale in NUMBER_OVERRIDES:
        value = env.get(f"WIZARD_{name}", "").strip()
        if value:
            if not value.isdigit():
                raise RuntimeError(f"WIZARD_{name} must be a whole number, got {value!r}")
            app.config[config_key] = int(value) * scale
    if test_config:
        app.config.update(test_config)

    uri = app.config.get("SQLALCHEMY_DATABASE_URI")
    if not uri:
        uri = "sqlite:///" + os.path.join(app.instance_path, "wizard.db")
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_db_url(uri)
    if not app.config.get("UPLOAD_FOLDER"):
        app.config["UPLOAD_FOLDER"] = os.path.join(app.instance_path, "uploads")
    if not app.config.get("PDF_CACHE_FOLDER"):
        app.config["PDF_CACHE_FOLDER"] = os.path.join(app.instance_path, "pdf-cache")
    _ensure_secret_key(app)


def normalise_db_url(url: str) -> str:
    """Use the psycopg 3 driver for plain postgresql:// URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _ensure_secret_key(app):
    """Use the configured key; otherwise generate one into instance/ (not in production)."""
    if app.config.get("SECRET_KEY"):
        return
    if app.config["PRODUCTION"]:
        raise RuntimeError(
            "SECRET_KEY is not set: production mode refuses to start without one "
            "(set the SECRET_KEY environment variable or instance/config.py)."
        )
    path = os.path.join(app.instance_path, "secret_key")
    os.makedirs(app.instance_path, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # another process (or an earlier run) made it
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    with open(path) as fh:
        app.config["SECRET_KEY"] = fh.read().strip()
