"""The workflow: the table of states and moves (states.py), the code that moves a submission
(moves.py), what blocks a submit (readiness.py), snapshots, deadlines and notifications.

Import from the module that defines a name: this package re-exports nothing, so that the
table (states.py, which the models' CHECK constraints read) imports without the rest."""
