"""The contract: hook specs, the kinds of plugin, the protocols plugins implement, Sample, answer helpers."""
