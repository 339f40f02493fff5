"""`python -m deploy.deploy`: the entry point; the command itself lives in deploy/cli.py.

The deploy is split by job: bundle.py (what ships), wheelhouse.py (the wheels), upload.py
(S3 by version), stack.py (CloudFormation), environment.py (MWAA update), cli.py (the CLI).
"""

from __future__ import annotations

import sys

from deploy.cli import main

if __name__ == "__main__":
    sys.exit(main())
