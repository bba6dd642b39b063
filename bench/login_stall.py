"""Only the login stall of ``versus_floor.py``: `me` at a steady pace on one worker, alone and
beside 10 logins a second, in turn, for a before/after of one change in minutes instead of the
whole run's fifteen.

Run on its own, never from the test suite::

    .venv/bin/python bench/login_stall.py [--rounds 2] [--logins valid|wrong-password]
        [--set DATARIGHTS_NAME=VALUE]

It seeds a fresh database as ``sample_profile.py`` does, then per round starts a server of one
worker and runs :func:`versus_floor.login_stall` (``--stall-pairs`` pairs of phases, each
``--duration`` seconds). ``--logins wrong-password`` sends the same addresses with a wrong
password: each still costs a hash, but no session is written and the answer is the error (so
the round's line says 0 logins/s; the line after it counts every answer), which tells the
hash's share of a stall from the rest of a sign-in's. With ``--set
DATARIGHTS_ARGON2_MEMORY_KIB=8 --set DATARIGHTS_ARGON2_TIME_COST=1`` (hashes seeded alike) the
hash costs next to nothing, which leaves the rest. ``--logins none`` runs no logins at all:
both phases of a pair alone, an A/A run that shows how far the measure moves by itself.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
import versus_floor as vf


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10, help="seconds per phase")
    parser.add_argument("--stall-pairs", type=int, default=vf.STALL_PAIRS)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=1_000)
    parser.add_argument(
        "--logins",
        choices=("valid", "wrong-password", "none"),
        default="valid",
        help="none: no logins in either phase (an A/A run: the measure's own noise)",
    )
    vf.add_set_argument(parser)
    return parser.parse_args(argv)


def login_bodies(bodies: list[str], kind: str) -> list[str]:
    """The bench's login bodies, or the same with a wrong password."""
    if kind != "wrong-password":
        return bodies
    out = []
    for body in bodies:
        payload = json.loads(body)
        payload["variables"]["input"]["password"] = vf.LOGIN_PASSWORD + " wrong"
        out.append(json.dumps(payload))
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    harness.stop_on_sigterm()
    run = harness.Run("login-stall")
    rng = random.Random(1)
    run.create_database()
    settings = vf.overrides(args.set)
    if settings:
        print(f"  product       settings: {settings}")
    moved: list[float] = []
    by_pair: list[float] = []
    with run.scope() as cwd:
        ops, tokens, _ = vf.seed_small(run, cwd, args.customers, args.sessions, rng, settings)
        me_target, me_bodies = ops[vf.STALL_ME][:2]
        login_target, bodies = ops["login"][:2]
        me_script, login_script = cwd / "me-stall.lua", cwd / "login-paced.lua"
        vf.write_script(me_script, me_target, me_bodies, tokens, vf.STALL_PACE_MS)
        vf.write_script(
            login_script, login_target, login_bodies(bodies, args.logins), [], vf.LOGIN_PAUSE_MS
        )
        scripts = {("product", vf.STALL_ME): me_script}
        if args.logins != "none":
            scripts[("product", "login")] = login_script
        for number in range(1, args.rounds + 1):
            print(f"  round {number}/{args.rounds} ({args.logins} logins)")
            stall: dict[str, Any] = vf.stall_phase(run, cwd, scripts, args)
            moved.append(stall["p99_moved"] or 0.0)
            by_pair.append(stall["p99_moved_by_pair"] or 0.0)
            answered = [p["logins"]["requests"] / p["logins"]["seconds"] for p in stall["pairs"]]
            print(f"    logins answered, right or wrong: {statistics.median(answered):.1f}/s")
    print(
        f"\n{args.logins} logins: p99 of `me` moved "
        + ", ".join(f"{100 * m:+.0f} %" for m in moved)
        + f" by round (median {100 * statistics.median(moved):+.0f} %); the median of the "
        "pairs' ratios " + ", ".join(f"{100 * m:+.0f} %" for m in by_pair)
    )
    return 0


if __name__ == "__main__":
    harness.run_main(main)
