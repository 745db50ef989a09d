"""The portfolio's members and where they run, from its solver options.

``--solver-option members=scip,highs`` lists the member backends (one process each, one
thread each; the first, the lead, runs in the calling process when its backend can be
interrupted, unless ``lead=process``); ``--solver-option LABEL:NAME=VALUE`` gives member
``LABEL`` a setting (``seed``, or one of its backend's own solver options); ``--solver-option executor=dask:ADDRESS`` runs
the members on a Dask cluster instead of local processes. A member's label is its backend's
name, with ``.2``, ``.3``... for the second, third... member of the same backend
(``members=highs,highs`` gives ``highs`` and ``highs.2``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from bnnmip.backends import SolveOptions, availability, check_solver_options
from bnnmip.errors import BnnmipError, InvalidInputError
from bnnmip.plugins import list_backends

__all__ = ["DEFAULT_MEMBERS", "LEADS", "NAME", "Member", "PortfolioConfig", "cores", "default_config", "parse_options"]

NAME = "portfolio"

DEFAULT_MEMBERS = ("scip", "highs", "cbc")
"""The built-in general MILP backends, in the order the default portfolio takes them.

SCIP first: it leads (runs in the calling process, :data:`LEADS`) because it proved the most
instances of the hard family (``docs/benchmarks/hard-family.md``: 8 of 20, HiGHS 5, CBC 5,
each of HiGHS's and CBC's proofs among SCIP's)."""

LEADS = ("thread", "process")
"""Where the first member runs: ``thread`` (default: in the calling process, no start-up, if its
backend declares ``INTERRUPT``) or ``process`` (like every other member)."""

_OWN = ("members", "executor", "lead")


@dataclass(frozen=True)
class Member:
    """One member: its label, backend, seed (``None``: the solve's) and its backend's own options."""

    label: str
    backend: str
    seed: int | None = None
    solver_options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PortfolioConfig:
    """The members, in order, and the executor (``"local"`` or ``"dask:ADDRESS"``)."""

    members: tuple[Member, ...]
    executor: str = "local"
    explicit: bool = False
    lead: str = "thread"

    @property
    def scheduler(self) -> str | None:
        """The Dask scheduler's address, or ``None`` for local processes."""
        return self.executor.split(":", 1)[1] if self.executor.startswith("dask:") else None


def cores() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_config() -> PortfolioConfig:
    """Every available built-in general MILP backend, at most one per core (at least one)."""
    found = [name for name in DEFAULT_MEMBERS if name in list_backends()
             and availability(list_backends()[name])[0]]
    found = found[:max(1, cores())] or list(DEFAULT_MEMBERS[:1])
    return PortfolioConfig(tuple(Member(name, name) for name in found))


def _labels(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}.{seen[name]}")
    return out


def _member_names(text: str) -> list[str]:
    names = [part.strip().lower() for part in str(text).split(",") if part.strip()]
    backends = list_backends()
    choices = ", ".join(sorted(n for n in backends if n != NAME))
    if not names:
        raise InvalidInputError(f"portfolio option members={text!r} names no backend; give a comma-"
                                f"separated list such as members=highs,scip (installed: {choices})")
    for name in names:
        if name == NAME:
            raise InvalidInputError("a portfolio cannot be a member of itself: drop 'portfolio' from "
                                    "members=")
        if name not in backends:
            raise InvalidInputError(f"portfolio members: unknown backend {name!r}; installed: {choices}")
    return names


def parse_options(options: dict) -> PortfolioConfig:
    """The :class:`PortfolioConfig` of the portfolio's solver options, checked.

    The body of the backend's ``check_solver_options``.

    Raises
    ------
    bnnmip.InvalidInputError
        Naming every option that is refused: an unknown one, an unknown member backend or
        label, a seed that is not a whole number, an executor other than ``local`` or
        ``dask:ADDRESS``, or a member option its backend refuses (in that backend's words).
    """
    problems = []
    explicit = "members" in options
    names = _member_names(options["members"]) if explicit else [m.backend for m in default_config().members]
    labels = _labels(names)
    executor = str(options.get("executor", "local")).strip()
    lead = str(options.get("lead", LEADS[0])).strip().lower()
    if lead not in LEADS:
        problems.append(f"portfolio option lead={options['lead']!r}: use lead=thread (the first member "
                        "runs in this process, the default) or lead=process (every member in a process "
                        "of its own)")
    if executor != "local" and not (executor.startswith("dask:") and executor[5:].strip()):
        problems.append(f"portfolio option executor={executor!r}: use executor=local (the default) or "
                        "executor=dask:ADDRESS (a running Dask scheduler, e.g. dask:tcp://127.0.0.1:8786)")
    seeds: dict[str, int] = {}
    member_options: dict[str, dict] = {label: {} for label in labels}
    for key, value in options.items():
        if key in _OWN:
            continue
        label, sep, name = key.partition(":")
        if not sep or not name:
            problems.append(f"portfolio has no option {key!r}: it takes members=A,B,..., executor=local|"
                            "dask:ADDRESS and LABEL:NAME=VALUE for one member (LABEL:seed=N, or one of "
                            "that backend's own solver options)")
            continue
        if label not in member_options:
            problems.append(f"portfolio option {key!r}: no member labelled {label!r} (members: "
                            f"{', '.join(labels)})")
            continue
        if name == "seed":
            try:
                seeds[label] = int(str(value))
            except ValueError:
                problems.append(f"portfolio option {key}={value!r}: a seed is a whole number")
            continue
        member_options[label][name] = value
    members = []
    backends = list_backends()
    for label, name in zip(labels, names, strict=True):
        if member_options[label]:
            try:  # the member's backend checks its own options (skipped if it cannot run here)
                check_solver_options(backends[name], SolveOptions(solver_options=member_options[label]))
            except BnnmipError as exc:
                problems.append(f"member {label}: {exc}")
        members.append(Member(label, name, seeds.get(label), dict(member_options[label])))
    if problems:
        raise InvalidInputError("; ".join(problems))
    return PortfolioConfig(tuple(members), executor, explicit, lead)
