"""The operator's command line: `./servflow ...` or `make run`."""
