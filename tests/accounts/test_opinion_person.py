"""Several people per organisation: the county opinion names the person who approved as well as
the government (the printed form keeps the government alone, for its seal)."""
from factories import ALLOY, submitted, user_named
from wizard.extensions import db
from wizard.workflow.moves import apply_move


def test_the_opinion_names_the_approving_person_and_the_government(app, people, client, auth):
    with app.app_context():
        reviewer = user_named("county-x")
        reviewer.display_name = "王审核"
        db.session.commit()
        sub = submitted(ALLOY)
        apply_move(sub, "county_approve", user_named("county-x"), comment="同意推荐参赛。")
        sub_id = sub.id
    auth.login("admin")
    page = client.get(f"/admin/submissions/{sub_id}").get_data(as_text=True)
    assert "长沙市人民政府（审核人：王审核）" in page
