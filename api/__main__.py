"""`python -m api`: serve the API (settings from SERVFLOW_* variables)."""

from api.server import serve

if __name__ == "__main__":
    serve()
