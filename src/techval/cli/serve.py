"""`techval simulator`: the built-in Redox simulator on a port, until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib

from techval.cli.common import fail
from techval.core.config import load_settings
from techval.core.errors import CouldNotRun


def command_simulator(args: argparse.Namespace) -> int:
    from techval.simulator import RunningSimulator, provision
    from techval.simulator.faults import named

    try:
        faults = [named(name) for name in args.fault]
        settings = load_settings(args.env, args.config)
        simulator = provision(settings)
        simulator.faults.extend(faults)
        running = RunningSimulator(simulator, host=args.host, port=args.port)
    except (CouldNotRun, ValueError) as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror}")
    print(f"techval simulator listening on {running.url} (Ctrl-C stops it)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        running.serve_forever()
    return 0
