"""The fault suite (issue 10): `make chaos`, and a short form in the normal test run."""
