"""The ``harness`` command line.

One module per command (or family of small commands). Each module in
:data:`COMMAND_MODULES` exposes ``COMMANDS``, a list of click commands; plugins
add theirs through the ``register_commands`` hook. Command modules import
heavy libraries only inside the command functions, so ``harness --help`` and
the listings stay instant.
"""

from __future__ import annotations

import importlib
import sys

import click

from harness.errors import HarnessError
from harness.runs.versions import __version__

COMMAND_MODULES: tuple[str, ...] = (
    "harness.cli.listing",
    "harness.cli.eval",
    "harness.cli.run",
    "harness.cli.install",
    "harness.cli.new_plugin",
    "harness.cli.study",
    "harness.cli.model",
)


class HarnessGroup(click.Group):
    """A click group that shows :class:`HarnessError` as one line, no traceback.

    An exception (``sys.exit()`` included) raised in a third-party plugin's
    code is one line too, naming the plugin, its distribution and where it
    raised: the plugin's bug, not the user's, and not the harness's. Errors
    in the harness's own code keep their traceback (they are ours to fix).
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HarnessError as exc:
            click.secho(f"Error: {exc}", err=True, fg="red")
            ctx.exit(exc.exit_code)
        except (Exception, SystemExit) as exc:
            message = _plugin_fault(exc)
            if message is None:
                raise
            click.secho(f"Error: {message}", err=True, fg="red")
            ctx.exit(1)


def _plugin_fault(exc: BaseException) -> str | None:
    """One line naming the third-party plugin whose code raised ``exc``, or ``None``."""
    from harness.host.manager import get_host

    found = get_host().blame(exc)
    if found is None or found[0].builtin:
        return None
    record, where = found
    what = f"called sys.exit({exc.code!r})" if isinstance(exc, SystemExit) else f"raised {type(exc).__name__}: {exc}"
    origin = f"distribution {record.distribution} {record.version}".strip()
    return (
        f"plugin {record.name!r} ({origin}) {what} (at {where}). This is a bug in that plugin: report it to "
        f"its authors, or block it with HARNESS_BLOCK_PLUGINS={record.name}."
    )


def build_cli() -> click.Group:
    @click.group(cls=HarnessGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, "--version", prog_name="harness")
    def cli() -> None:
        """rft-harness: RFT (GRPO) and SFT for vision-language models, on visual tasks.

        Tasks, rewards, prompt templates, training backends and inference
        engines are plugins: `harness plugins` lists them.
        """

    for module_name in COMMAND_MODULES:
        for command in importlib.import_module(module_name).COMMANDS:
            cli.add_command(command)

    from harness.cli.run import with_backend_flags
    from harness.host.manager import get_host

    host = get_host()
    cli.add_command(with_backend_flags(cli.commands["run"], host))
    host.add_commands(cli)
    return cli


def main(argv: list[str] | None = None) -> None:
    build_cli()(args=argv if argv is not None else sys.argv[1:], prog_name="harness")
