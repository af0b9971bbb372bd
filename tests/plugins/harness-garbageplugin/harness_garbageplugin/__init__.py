"""Registers a 'task' that is not a task, and implements a misspelled hook in a second object."""

import harness


@harness.hookimpl
def register_tasks(register):
    register(object(), name="not-a-task")
