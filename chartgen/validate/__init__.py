"""`chartgen validate`: the check runner, its config and verdict cache, the checks, the
reporters."""
