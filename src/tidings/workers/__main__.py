"""`python -m tidings.workers FD` runs one worker process (see worker.py)."""

import sys

from tidings.workers.worker import main

sys.exit(main(sys.argv))
