"""Relational state: tables, migrations, and the repository functions that are the only place with SQL."""
