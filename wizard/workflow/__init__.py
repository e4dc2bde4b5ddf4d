"""The workflow: the table of states and moves (states.py), the code that moves a
submission (moves.py), snapshots, deadlines and notifications.

Import from the module that defines a name; this package re-exports the public names
so ``from wizard.workflow import apply_move`` keeps working."""
from .deadlines import effective_deadline, extend_deadline
from .moves import apply_move, last_undoable, moves_for, prefill_final, submit_guard
from .snapshots import answers_digest, evidence_manifest, latest_snapshot
from .states import (
    MOVES, MOVES_BY_KEY, STATES, UNDO, Move, MoveRefused, State, current_round, move_label, round_of,
    state_label, submit_move,
)
