"""Preflight: what can be checked without a model is checked before the first model load.

``harness eval``, ``harness run`` (``--check`` too) and ``harness study`` call
these before any model is loaded, any token generated or any base model
pre-trained, so a slip costs seconds, not the hours of work it would
otherwise precede. Each check raises a :class:`~harness.errors.ConfigError`
(exit status 2) naming the flag or field, the value and the fix.

- **Seeds** (:func:`check_seed`): ``0 <= seed < 2**32``, the range numpy,
  torch and ``random`` all accept (numpy's legacy seeding is the narrowest;
  torch takes up to ``2**64``). The config models refuse other values when
  they are built (:data:`harness.config.base.Seed`); the CLI's study seed is
  checked here.
- **Ray addresses** (:func:`check_ray_address`): syntax (``HOST:PORT``,
  ``ray://HOST:PORT``, ``http(s)://HOST:PORT``, ``auto``, ``local``), a port in
  1..65535, then one bounded probe (:data:`PROBE_TIMEOUT_S`) that says *what*
  answered: Ray's GCS and Ray Client speak gRPC (HTTP/2), the dashboard and
  Jobs API speak HTTP/1. The likeliest slip, the dashboard's ``HEAD:8265``
  given where the cluster's ``HEAD:6379`` belongs (or the reverse), is named
  at once instead of Ray retrying for ever.
- **Output files** (:func:`check_new_file`): a file a command writes (``report
  -o``) must not replace a file it did not create for that purpose, and its
  folder must exist.
- **Monitor settings** (:func:`check_monitor`): indicator names, the format
  reward and the length rewards are closed vocabularies, checked with "did
  you mean".
- **Study output** (:func:`check_study_output`): a folder holding what a study
  writes, without the study.json that says it is one, is someone else's.
"""

from __future__ import annotations

import difflib
import os
import socket
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, HarnessError

PROBE_TIMEOUT_S = 5.0
# The client's side of an HTTP/2 connection: the preface and an empty SETTINGS frame. A gRPC
# server (Ray's GCS, Ray Client) answers with its own SETTINGS frame; an HTTP/1 server (the
# dashboard, the Jobs API) with an "HTTP/1.x 4xx" status line.
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_H2_SETTINGS = 0x04


# -- seeds -------------------------------------------------------------------------


def check_seed(value: Any, field: str = "--seed") -> int:
    """``value`` if it is a seed every consumer accepts (see the module doc), else a ConfigError."""
    from harness.config.base import SEED_RANGE
    from harness.config.base import check_seed as valid

    try:
        return valid(value)
    except ValueError:
        raise ConfigError(f"{field} {value!r}: a seed is {SEED_RANGE}. Use e.g. {field} 0.") from None


# -- Ray addresses -----------------------------------------------------------------


def split_address(address: str, field: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of ``[scheme://]HOST:PORT``; ``None`` for ``auto``/``local``.

    ``scheme`` is ``""`` for a bare ``HOST:PORT``. A missing or out-of-range
    port, an empty host or control characters are a ConfigError naming ``field``.
    """
    if not isinstance(address, str) or not address.strip():
        raise ConfigError(f"{field} {address!r}: give HOST:PORT (e.g. head-node:6379), auto or local.")
    address = address.strip()
    if address in ("auto", "local"):
        return None
    if any(ord(c) < 32 or c.isspace() for c in address):
        raise ConfigError(f"{field} {address!r}: an address holds no spaces or control characters.")
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "", address
    scheme = scheme.lower()
    if scheme not in ("", "ray", "http", "https"):
        raise ConfigError(
            f"{field} {address!r}: unknown scheme {scheme + '://'!r}; use HOST:PORT, ray://HOST:PORT "
            "or http://HOST:PORT."
        )
    rest = rest.rstrip("/")
    host, colon, port_text = rest.rpartition(":")
    if not colon or not host or not port_text.isdigit() or "/" in rest:
        default = {"http": 8265, "https": 8265, "ray": 10001}.get(scheme, 6379)
        raise ConfigError(
            f"{field} {address!r}: write {scheme + '://' if scheme else ''}HOST:PORT, "
            f"e.g. {scheme + '://' if scheme else ''}head-node:{default}."
        )
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ConfigError(f"{field} {address!r}: port {port_text} is out of range; a TCP port is 1..65535.")
    return scheme, host.strip("[]"), port


def _exchange(host: str, port: int, request: bytes, timeout: float, enough: int) -> bytes:
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.settimeout(timeout)
        data = b""
        try:
            conn.sendall(request)
            while len(data) < enough:
                chunk = conn.recv(256)
                if not chunk:
                    break
                data += chunk
        except (TimeoutError, ConnectionError):
            pass
    return data


def probe(host: str, port: int, timeout: float = PROBE_TIMEOUT_S) -> str:
    """What listens on ``host:port``: ``"grpc"`` (HTTP/2: Ray's GCS or Ray Client), ``"http"`` (HTTP/1:
    the dashboard, the Jobs API or another web server), ``"silent"`` (accepted, said nothing within
    ``timeout``) or ``"other"`` (something else). An OSError when nothing accepts the connection.

    First the HTTP/2 preface (a gRPC server answers with a SETTINGS frame); failing that, one
    ``HEAD / HTTP/1.0`` request (an HTTP/1 server answers with a status line).
    """
    data = _exchange(host, port, _H2_PREFACE, timeout / 2, 9)  # two exchanges: ``timeout`` in all
    if len(data) >= 9 and data[3] == _H2_SETTINGS:
        return "grpc"
    if data.startswith(b"HTTP/"):
        return "http"
    again = _exchange(host, port, f"HEAD / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode(), timeout / 2, 5)
    if again.startswith(b"HTTP/"):
        return "http"
    return "silent" if not data and not again else "other"


WHAT_ANSWERED = {
    "grpc": "a gRPC server (Ray's GCS, or Ray Client on ray://)",
    "http": "an HTTP server (Ray's dashboard / Jobs API, usually port 8265)",
    "silent": "a server that accepted the connection but said nothing",
    "other": "a server that is not Ray (it answered neither gRPC nor HTTP)",
}


def check_ray_address(
    address: str,
    field: str = "--ray-address",
    *,
    purpose: str = "cluster",
    timeout: float = PROBE_TIMEOUT_S,
    reach: bool = True,
) -> None:
    """Refuse, within ``timeout`` seconds, a Ray address that cannot work for ``purpose``.

    :param purpose: ``"cluster"``: the driver joins the cluster (``ray.init``: GCS ``HOST:6379``
        or ``ray://HOST:10001``); ``"jobs"``: jobs are submitted (``http://HOST:8265``, or a GCS
        address from which Ray finds the dashboard).

    With ``RAY_USE_TLS=1`` (or an ``https://`` address) only the TCP connection is checked: the
    handshake is TLS, not a protocol to tell apart. ``reach=False`` checks the syntax only (for
    configs written here to run elsewhere).
    """
    parts = split_address(address, field)
    if parts is None:
        return
    scheme, host, port = parts
    if purpose == "cluster" and scheme in ("http", "https"):
        raise ConfigError(
            f"{field} {address}: that is a dashboard / Jobs address. Evaluation connects to the cluster "
            f"itself: give the head's GCS address HOST:PORT ({host}:6379 unless `ray start --head --port` "
            "said otherwise), ray://HOST:10001 (Ray Client), auto or local."
        )
    if not reach:
        return
    try:
        if scheme == "https" or os.environ.get("RAY_USE_TLS", "").strip() in ("1", "true", "True"):
            socket.create_connection((host, port), timeout=timeout).close()
            return
        answered = probe(host, port, timeout)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        if purpose == "jobs":
            fix = f"start the head (`ray start --head`; its dashboard listens on 8265) or fix {field}"
        else:
            fix = f"start one (`ray start --head --port {port}`) or fix {field}"
        raise ConfigError(
            f"Ray address {address} does not answer ({reason}) within {timeout:g} s: no Ray head "
            f"listens on {host}:{port}. {fix.capitalize()}."
        ) from None
    wants_http = purpose == "jobs" and scheme == "http"
    if answered == ("http" if wants_http else "grpc"):
        return
    what = WHAT_ANSWERED[answered]
    if answered == "http" and not wants_http:
        fix = (
            f"this is Ray's dashboard (HTTP): give the cluster's GCS address {host}:6379 (or ray://{host}:10001)"
            if purpose == "cluster"
            else f"this is an HTTP server: write http://{host}:{port}"
        )
    elif answered == "grpc" and wants_http:
        fix = (
            f"this is the cluster's GCS (gRPC), not the dashboard: jobs go to http://{host}:8265, "
            f"or give {host}:{port} without http:// to let Ray find the dashboard"
        )
    else:
        fix = f"give the head's GCS address ({host}:6379), ray://{host}:10001, or for jobs http://{host}:8265"
    raise ConfigError(
        f"{field} {address}: {what} answered on {host}:{port}, not what Ray "
        f"{'job submission' if purpose == 'jobs' else 'cluster connection'} needs; {fix}."
    )


# -- output files ------------------------------------------------------------------


def check_new_file(path: str | Path, field: str, *, ours: Callable[[Path], bool] | None = None) -> Path:
    """``path`` as a file a command may write: its folder exists (and is a folder), and ``path`` is
    either new or a file ``ours`` recognises as one this command wrote for the same purpose.

    Anything else (a run's ``results.json``, a folder, someone's notes) is refused: run folders
    are append-only to foreign writers.
    """
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise ConfigError(f"{field} {str(path)!r}: name a file to write, e.g. {field} report.md.")
    path = Path(path).expanduser()
    parent = path.parent
    if not parent.exists():
        raise ConfigError(
            f"{field} {str(path)!r}: its folder {parent} does not exist; create it first "
            f"(mkdir -p {parent}) or choose another {field}."
        )
    if not parent.is_dir():
        raise ConfigError(f"{field} {str(path)!r}: {parent} is a file, not a folder; choose another {field}.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{field} {str(path)!r}: no write permission on {parent}; choose another {field}.")
    if path.is_dir():
        raise ConfigError(f"{field} {str(path)!r} is a folder; name a file inside it, e.g. {path / 'report.md'}.")
    if path.exists() or path.is_symlink():
        if path.is_symlink() or ours is None or not ours(path):
            raise ConfigError(
                f"{field} {str(path)!r} already exists and was not written by this command for this purpose; "
                f"refusing to overwrite it. Choose a new file name (or delete {path} yourself)."
            )
    return path


def check_own_dir(path: str | Path, field: str, marker: str, what: str) -> Path:
    """``path`` as a folder a command fills: new, empty, or holding ``marker`` (the file that command
    writes there, so it made the folder); a folder of other files is refused, never overwritten."""
    from harness.runs.rundir import check_output_path

    path = check_output_path(path, field)
    if path.is_dir() and not (path / marker).is_file() and any(path.iterdir()):
        raise ConfigError(
            f"{field} {str(path)!r} holds files but no {marker}, so it is not a {what} this command made; "
            f"refusing to overwrite them. Choose an empty or new {field}."
        )
    return path


# -- closed vocabularies -----------------------------------------------------------


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=2, cutoff=0.6)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def unknown_name(field: str, name: str, known: Iterable[str], what: str) -> ConfigError:
    """The error for ``name`` outside a closed vocabulary: did you mean, and the whole vocabulary."""
    known = sorted(set(known))
    listing = ", ".join(known) if known else "none registered (`harness plugins` lists what is)"
    return ConfigError(f"{field}: unknown {what} {name!r}.{_did_you_mean(name, known)} Valid {what}s: {listing}.")


def task_indicators(task: Any) -> set[str] | None:
    """The ``hack/*`` names ``task`` adds (the keys its ``hacking_indicators`` returns for an
    empty batch); ``None`` when it cannot say (its method failed on an empty batch)."""
    from harness.hacking import task_flags

    try:
        return set(task_flags(task, [], []))
    except Exception:  # noqa: BLE001 - a task's own code; unknown means "do not refuse"
        return None


def check_monitor(config: Any) -> None:
    """The ``monitor:`` section of a GRPO run config against its closed vocabularies.

    - ``thresholds``: built-in indicators plus the task's own (a misspelt name would silently
      never alarm);
    - ``format_reward`` and ``length_rewards``: registered rewards (an unknown one silently
      leaves ``hack/format_only`` or ``hack/length_share`` out of metrics.jsonl).
    """
    from harness.hacking import DEFAULT_THRESHOLDS, INDICATORS
    from harness.host.manager import get_host

    monitor = config.monitor
    if config.method != "grpo" or not monitor.enabled:
        return
    host = get_host()
    try:
        own = task_indicators(host.get("tasks", config.task))
    except HarnessError:  # an unknown task: the backend's check names it, as field 'task'
        own = None
    known = set(INDICATORS) | (own or set())
    for name in monitor.thresholds:
        if name in known or name in DEFAULT_THRESHOLDS:
            continue
        hint = _did_you_mean(name, known)
        if own is not None or hint:
            raise unknown_name("monitor.thresholds", name, known, "indicator")
    rewards = host.registry("rewards").names()
    checks = [("monitor.format_reward", monitor.format_reward)]
    checks += [("monitor.length_rewards", name) for name in monitor.length_rewards]
    for field, name in checks:
        if name not in rewards:
            raise unknown_name(field, name, rewards, "reward")


# -- per command -------------------------------------------------------------------


# What other commands leave in their folders: a training run never writes over them.
FOREIGN_TO_RUNS = ("results.json", "samples", "data.json", "study.json", "probe.json")


def check_run_output(output: str | Path, field: str = "field 'output'") -> None:
    """A training run's folder holds no other command's files, and its ``config.json`` (if any) is a
    run record (``{"config": {"task": ...}}``): run folders are append-only to foreign writers."""
    from harness.runs.rundir import read_json

    path = Path(output).expanduser()
    if not path.is_dir():
        return
    found = [name for name in FOREIGN_TO_RUNS if (path / name).exists() or (path / name).is_symlink()]
    if found:
        raise ConfigError(
            f"{field} {str(output)!r} holds {', '.join(found)}: another command's output (an "
            "evaluation or a study), not a training run; refusing to write into it. Choose a new --output."
        )
    record = path / "config.json"
    if record.is_file():
        data = read_json(record, "run config")
        inner = data.get("config") if isinstance(data, dict) else None
        if not isinstance(inner, dict) or "task" not in inner:
            raise ConfigError(
                f"{field} {str(output)!r}: {record} is not a training run's record; refusing to "
                "overwrite it. Choose a new --output."
            )


def preflight_run(config: Any) -> None:
    """``harness run`` (and ``--check``): what its shared fields and sections can be checked for."""
    check_seed(config.seed, "field 'seed'")
    check_run_output(config.output)
    check_monitor(config)
    for name, section in config.backend_settings.items():
        address = getattr(section, "ray_address", None) if not isinstance(section, dict) else section.get("ray_address")
        dry = getattr(section, "dry_run", False) if not isinstance(section, dict) else section.get("dry_run", False)
        if name == config.backend and address and not dry:
            check_ray_address(address, f"{name}.ray_address (--ray-address)", purpose="jobs")


STUDY_FILES = ("probe.json", "report.md", "eval", "runs", "figures")
STUDY_RECORD = "study.json"


def check_study_output(output: str | Path, field: str = "--output") -> Path:
    """A study folder: new, empty, or one a study made (its ``study.json`` holds a ``preset``)."""
    from harness.runs.rundir import check_output_path, read_json

    path = check_output_path(output, field)
    record = path / STUDY_RECORD
    if record.exists():
        data = read_json(record, "study record")
        if not isinstance(data, dict) or not isinstance(data.get("preset"), dict):
            raise ConfigError(
                f"{field} {str(output)!r}: {record} is not a study record (no 'preset'); it is not a "
                "study this command can resume. Choose a new --output."
            )
        return path
    found = [name for name in STUDY_FILES if (path / name).exists() or (path / name).is_symlink()]
    if found:
        raise ConfigError(
            f"{field} {str(output)!r} holds {', '.join(found)} but no {STUDY_RECORD}, so they are not "
            "from a harness study it can resume; refusing to overwrite them. Choose an empty or new --output."
        )
    return path
