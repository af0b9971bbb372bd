"""Raises on import, as a plugin with a missing dependency would."""

raise ImportError("harness_brokenplugin needs the package 'does-not-exist'")
