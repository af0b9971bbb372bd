"""Training: check a RunConfig with its backend, train, evaluate (what `harness run` calls)."""
