"""Built-in plugins: prompt templates, rewards, training backends, inference engines."""
