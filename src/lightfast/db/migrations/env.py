"""Alembic environment: runs against the connection handed in by ``lightfast.db.engine.migrate``."""

from __future__ import annotations

from alembic import context

from lightfast.db.models import Base, is_dialect_object


def _include_name(name: str | None, type_: str, _parent: object) -> bool:
    return name is None or not is_dialect_object(name)


config = context.config
connection = config.attributes.get("connection")
if connection is None:
    engine = config.attributes["engine"]
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=True,
            include_name=_include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(
        connection=connection, target_metadata=Base.metadata, render_as_batch=True, include_name=_include_name
    )
    with context.begin_transaction():
        context.run_migrations()
