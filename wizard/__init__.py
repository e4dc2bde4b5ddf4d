"""湖南省产业集群竞赛申报系统: the application factory."""
import logging
import os
import uuid

from flask import Flask, g, has_request_context

from .config import load_config
from .extensions import db, login_manager, migrate
from .ops.maintenance import remove_partial_files

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
PROJECT_DIR = os.path.dirname(PACKAGE_DIR)


def create_app(test_config=None):
    """Create and configure the app (flaskr-style factory).

    The only function of the package that imports inside its body: the engine set-up, the
    blueprints, the CLI and the web hooks are imported here so that importing wizard.models
    (migrations, the CLI, tests) does not load every blueprint (docs/architecture.md)."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=(test_config or {}).get("INSTANCE_PATH") or os.path.join(PROJECT_DIR, "instance"),
        template_folder=os.path.join(PROJECT_DIR, "templates"),
        static_folder=os.path.join(PROJECT_DIR, "static"),
    )
    os.makedirs(app.instance_path, exist_ok=True)
    load_config(app, test_config)
    _configure_logging(app)
    removed, freed = remove_partial_files(app)  # interrupted uploads and renders (only files >10 min old)
    if removed:
        app.logger.info("Start-up cleanup: removed %d partial files (%d bytes)", removed, freed)

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(PROJECT_DIR, "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    with app.app_context():
        from .dbsetup import configure_engine

        configure_engine(db.engine)

    @app.before_request
    def _request_id():
        g.request_id = uuid.uuid4().hex[:12]

    from .params import IdConverter, RoundConverter

    app.url_map.converters["int"] = IdConverter  # every <int:…> id: ASCII digits, 1..2³¹−1, else 404
    app.url_map.converters["round"] = RoundConverter  # <round:…>: preliminary or final, else 404

    from .ops import cli
    from .views import accounts, admin, applicant, audit, auth, county, deadlines, evidence, expert, main, profile
    from .views import results, review, sheets, verify, workbook
    from .web import errors, security

    security.init_app(app)
    errors.init_app(app)
    cli.init_app(app)
    for bp in (auth.bp, main.bp, applicant.bp, county.bp, admin.bp, results.bp, deadlines.bp, audit.bp, evidence.bp,
               verify.bp, workbook.bp, expert.bp, review.bp, sheets.bp, accounts.bp, profile.bp):
        app.register_blueprint(bp)

    from .web import templating

    templating.init_app(app)
    return app


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def _configure_logging(app):
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"))
    handler.addFilter(_RequestIdFilter())
    app.logger.handlers[:] = [handler]
    app.logger.setLevel(logging.INFO)
