from servflow.cli.main import main
from servflow.cli.shutdown import exit_now

exit_now(main())
