"""`techval doctor`: an environment checked before a run, every problem at once."""

from __future__ import annotations

import argparse

from techval.core.paths import project_root
from techval.harness import doctor


def command_doctor(args: argparse.Namespace) -> int:
    found = doctor.diagnose(
        args.env, args.config, allow_production=args.allow_production, root=project_root()
    )
    print(doctor.table(found))
    code = doctor.exit_code(found)
    verdicts = {0: "ready to run", 1: "a run would fail: see above", 2: "a run could not go on"}
    print(f"\ntechval doctor: {verdicts[code]}")
    return code
