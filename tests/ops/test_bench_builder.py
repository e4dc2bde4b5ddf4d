"""The load benchmark's data builder (benchmarks/load_data.py): the instance it builds holds
complete reports, in the states it says, that the app accepts as they are."""
import json
import os
import sys

from sqlalchemy import func

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "benchmarks")
sys.path.insert(0, BENCHMARKS)

from factories import csrf_from  # noqa: E402
from load_data import PASSWORD, bench_app, build, state_of  # noqa: E402
from wizard.extensions import db  # noqa: E402
from wizard.models import EvidenceFile, Snapshot, Submission, User  # noqa: E402
from wizard.report.view import effective_answers  # noqa: E402
from wizard.workflow.readiness import review_lists  # noqa: E402
from wizard.workflow.states import STATES, current_round  # noqa: E402


def test_five_complete_submissions_in_the_expected_states(tmp_path):
    instance = str(tmp_path / "bench")
    info = build(instance, 5)

    with open(os.path.join(instance, "bench.json")) as fh:
        assert json.load(fh)["n"] == 5
    app = bench_app(instance)
    with app.app_context(), app.test_request_context():
        subs = db.session.execute(db.select(Submission).order_by(Submission.id)).scalars().all()
        assert [s.state for s in subs] == [state_of(i) for i in range(5)]
        assert {s.state for s in subs} >= {"draft", "submitted", "finalist"}  # both rounds
        for sub in subs:
            round_ = current_round(sub)
            problems, _ = review_lists(sub, round_, effective_answers(sub, round_))
            assert problems == [], (sub.state, problems[:3])  # complete, every needed file attached
            snapshots = db.session.execute(db.select(Snapshot).filter_by(submission_id=sub.id)).scalars().all()
            assert bool(snapshots) == (sub.state != "draft")
            if STATES[sub.state].round == "final":
                assert sub.final_answers and sub.opinions.get("preliminary")
        # every table at its row limit, every narrative near its limit
        carriers = subs[0].preliminary_answers["carriers"]
        assert len(carriers) == 50 and len({row["name"] for row in carriers}) == 50
        assert len(subs[0].preliminary_answers["self_assessment"]) >= 2300
        # the first submission carries about 200 pages of evidence, stored on disk
        pages = db.session.execute(db.select(func.sum(EvidenceFile.pages))
                                   .filter_by(submission_id=subs[0].id, round="preliminary")).scalar_one()
        assert pages >= 200
        row = db.session.execute(db.select(EvidenceFile).filter_by(submission_id=subs[1].id)).scalars().first()
        assert os.path.getsize(os.path.join(info["upload_folder"], row.stored_name)) == row.size
        first = info["applicants"][0]["username"]
        applicant = db.session.execute(db.select(User).filter_by(username=first)).scalar_one()
        assert applicant.cluster_id == subs[0].cluster_id and applicant.check_password(PASSWORD)

    client = app.test_client()
    token = csrf_from(client.get("/login"))
    r = client.post("/login", data={"csrf_token": token, "username": info["applicants"][0]["username"],
                                    "password": PASSWORD})
    assert r.status_code == 302
    assert "经济指标" in client.get("/applicant/step/indicators").get_data(as_text=True)
