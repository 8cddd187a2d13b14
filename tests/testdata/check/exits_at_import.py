# Kills the interpreter while being imported.
import os
import sys

sys.stderr.write('about to exit\n')
os._exit(5)
