"""`python -m servflow.cli COMMAND`: the same as the `servflow` console script."""

import sys

from servflow.cli.main import main

sys.exit(main())
