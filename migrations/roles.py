"""The app's own PostgreSQL role: owns nothing, appends to the audit log, reads and writes the rest.

`supplybid db upgrade`, run with the owner's URL (SUPPLYBID_OWNER_DATABASE_URL), migrates,
creates procrastinate's schema and then grants the role of SUPPLYBID_DATABASE_URL exactly
`APP_TABLE_RIGHTS` here, in the owner's schema. Only a table's owner may alter it, so the app
can neither disable the audit log's triggers nor drop them; it has no UPDATE, DELETE or
TRUNCATE on `audit_event` either. The roles themselves are the operator's (README).
"""

from sqlalchemy import Connection, text

APP_TABLE_RIGHTS: dict[str, tuple[str, ...]] = {
    "audit_event": ("SELECT", "INSERT"),
    "api_key": ("SELECT", "INSERT", "UPDATE"),
    "factory": ("SELECT", "INSERT", "UPDATE"),
    "item": ("SELECT", "INSERT", "UPDATE"),
    "scenario": ("SELECT", "INSERT", "UPDATE", "DELETE"),
    "round": ("SELECT", "INSERT", "UPDATE"),
    "round_item": ("SELECT", "INSERT", "UPDATE", "DELETE"),
    "invitation": ("SELECT", "INSERT", "UPDATE", "DELETE"),
    "bid": ("SELECT", "INSERT", "UPDATE"),
    "bid_version": ("SELECT", "INSERT"),
    "idempotency_record": ("SELECT", "INSERT", "UPDATE", "DELETE"),
    "allocation": ("SELECT", "INSERT", "UPDATE"),
    "award": ("SELECT", "INSERT", "UPDATE"),
    "threshold_job": ("SELECT", "INSERT", "UPDATE"),
    "award_threshold": ("SELECT", "INSERT"),  # written once: never updated
    "settlement": ("SELECT", "INSERT", "UPDATE"),
    "settlement_item": ("SELECT", "INSERT"),
    "settlement_takeover": ("SELECT", "INSERT"),
    "web_session": ("SELECT", "INSERT", "UPDATE", "DELETE"),
    "alembic_version": ("SELECT",),  # the command line checks the database is migrated
}
"""Each table and what the app does to it (SELECT ... FOR UPDATE needs UPDATE)."""

JOB_QUEUE_RIGHTS = ("SELECT", "INSERT", "UPDATE", "DELETE")
"""On procrastinate's tables: its workers and its SQL functions, run as the app, change them."""


class RoleError(ValueError):
    """The grants cannot be set up as asked (the app's role is the owner, or is missing)."""


def grant_app_rights(connection: Connection, app_role: str) -> list[str]:
    """Give `app_role` just the rights the app uses, in the caller's transaction; the statements.

    Run as the owner of the tables. Revokes whatever else the role had on the schema's tables,
    sequences and functions first, so running it again after a migration gives the same rights.
    """
    owner = connection.execute(text("SELECT current_user")).scalar_one()
    if owner == app_role:
        raise RoleError(
            f"the app's role {app_role!r} is the owner: give SUPPLYBID_OWNER_DATABASE_URL "
            "another role"
        )
    exists = connection.execute(
        text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": app_role}
    ).first()
    if exists is None:
        raise RoleError(f"no role {app_role!r}: create it first (README)")
    quote = connection.dialect.identifier_preparer.quote
    schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    role, where = quote(app_role), quote(schema)
    statements = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {where} FROM {role}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {where} FROM {role}",
        f"REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {where} FROM {role}",
        f"REVOKE CREATE ON SCHEMA {where} FROM {role}",
        f"GRANT USAGE ON SCHEMA {where} TO {role}",
    ]
    for table, rights in APP_TABLE_RIGHTS.items():
        statements.append(f"GRANT {', '.join(rights)} ON {where}.{quote(table)} TO {role}")
    for (table,) in connection.execute(
        text(
            "SELECT tablename FROM pg_tables WHERE schemaname = :schema"
            " AND tablename LIKE 'procrastinate\\_%' ORDER BY tablename"
        ),
        {"schema": schema},
    ):
        statements.append(
            f"GRANT {', '.join(JOB_QUEUE_RIGHTS)} ON {where}.{quote(table)} TO {role}"
        )
    for (sequence,) in connection.execute(
        text(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = :schema ORDER BY sequencename"
        ),
        {"schema": schema},
    ):
        # The ids of the rows it inserts (idempotency records, procrastinate's jobs).
        statements.append(f"GRANT USAGE ON SEQUENCE {where}.{quote(sequence)} TO {role}")
    for (function,) in connection.execute(
        text(
            "SELECT p.oid::regprocedure::text FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = :schema AND p.proname LIKE 'procrastinate\\_%' ORDER BY 1"
        ),
        {"schema": schema},
    ):
        statements.append(f"GRANT EXECUTE ON FUNCTION {function} TO {role}")
    for statement in statements:
        connection.exec_driver_sql(statement)
    return statements
