"""Model plumbing: loading checkpoints, tiny VLMs built offline, chat messages + images -> model inputs."""
