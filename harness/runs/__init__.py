"""Run folders: atomic writes and identities (rundir), content fingerprints, package versions."""
