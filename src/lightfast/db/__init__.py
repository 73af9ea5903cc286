"""Relational state: tables, migrations, and the repository functions that are the only place with SQL."""

# Tables kept in modules of their own, registered on ``models.Base.metadata`` before anything uses it
# (``models.py`` stays under the 500-line limit).
from lightfast.db import notification_models as notification_models
