"""The operator's command line: `servflow COMMAND` (the console script) or `make run`."""
