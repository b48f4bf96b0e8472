from servflow_cli.main import main
from servflow_cli.shutdown import exit_now

exit_now(main())
