"""python -m gowsgi ARGS: runs the gowsgi binary with ARGS, as the gowsgi
command does, serving with this interpreter (unless --python or
GOWSGI_PYTHON names another)."""

import os
import sys

from ._binary import find_gowsgi_bin


def main():
    try:
        binary = find_gowsgi_bin()
    except FileNotFoundError as e:
        sys.exit(str(e))
    env = dict(os.environ)
    if sys.executable:
        env.setdefault("GOWSGI_PYTHON", sys.executable)
    sys.stdout.flush()
    sys.stderr.flush()
    # exec: the binary takes this process's place, so signals, the exit
    # status and a supervisor's PID all belong to gowsgi itself.
    os.execve(binary, [binary] + sys.argv[1:], env)


if __name__ == "__main__":
    main()
