"""Search strategies: where local solves start, and how the budget is spent."""
