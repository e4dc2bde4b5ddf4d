"""One blueprint per role: auth, main (every logged-in user), applicant, county, admin."""
