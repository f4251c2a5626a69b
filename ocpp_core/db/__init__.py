"""Database access: engine, sessions, migrations and the ORM models."""
