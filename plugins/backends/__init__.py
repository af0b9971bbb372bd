"""Training backends: trl (one node, in-process) and openrlhf (a Ray cluster)."""
