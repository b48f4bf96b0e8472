"""servflow's HTTP API: FastAPI app, one router per resource (see api.main.create_app)."""
