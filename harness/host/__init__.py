"""The plugin host: the pluggy manager (built-ins and entry points alike) and the per-kind registries."""
