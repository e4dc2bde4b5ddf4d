"""Expert review (专家评审): the 评分细则 of each round, assigning experts to reports (with 回避),
the experts' scores, and the ranking administrators advance clusters from.

Below the views, beside workflow: it reads the workflow table (which state is scored) and
moves submissions only through workflow.moves.apply_move."""
