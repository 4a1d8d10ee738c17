"""What the Python benches share: running a build of xueji, and the day they check as of."""

import subprocess

AS_OF = "2026-11-29"


def xueji(binary, *args):
    """Runs `binary` with `args`; its stdout, or the run stops with its stderr."""
    done = subprocess.run([binary, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"xueji {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout
