"""The SQL store: models, engine and session factory, repositories, migrations, demo data."""
