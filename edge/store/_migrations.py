"""Named, recorded schema migrations (sqlite-utils ``Migrations``), one set per package.

Each package owns its tables through its own set, registered through its ``_extension.py``
hook; the store applies its own set first, then the registered ones in the composition root's
order (:mod:`edge.cli._packages`), when it is created or opened.
"""

from __future__ import annotations

from sqlite_utils.migrations import Migrations

from edge._registry import REGISTRY

store_migrations = Migrations("store")


@store_migrations(name="0001_core")
def _core(db) -> None:
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(
        """CREATE TABLE dossiers (
            id TEXT PRIMARY KEY,
            code TEXT UNIQUE,
            procedure_code TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('draft','finalized','handed_over','shredded')),
            city_status TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            finalized_at TEXT,
            received_at TEXT,
            due_at TEXT,
            counter INTEGER NOT NULL,
            hlc TEXT NOT NULL,
            clock_anchored INTEGER NOT NULL DEFAULT 0,
            cipher TEXT NOT NULL,
            local_wrap BLOB,
            city_seal BLOB,
            city_kem TEXT,
            sealed_applicant BLOB,
            sealed_form BLOB,
            id_hash TEXT,
            meta TEXT NOT NULL DEFAULT '{}',
            shredded_at TEXT,
            shred_reason TEXT
        )"""
    )
    db.execute("CREATE INDEX dossiers_id_hash ON dossiers(id_hash)")
    db.execute("CREATE INDEX dossiers_created ON dossiers(created_at DESC)")
    db.execute("CREATE INDEX dossiers_status ON dossiers(status, created_at DESC)")
    db.execute("CREATE TABLE name_index (token TEXT NOT NULL, dossier_id TEXT NOT NULL REFERENCES dossiers(id), PRIMARY KEY (token, dossier_id)) WITHOUT ROWID")
    db.execute("CREATE INDEX name_index_dossier ON name_index(dossier_id)")
    db.execute(
        """CREATE TABLE documents (
            dossier_id TEXT NOT NULL REFERENCES dossiers(id),
            component TEXT NOT NULL,
            name TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'photocopy',
            count INTEGER NOT NULL DEFAULT 1,
            provided INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (dossier_id, component)
        )"""
    )
    db.execute(
        """CREATE TABLE pages (
            dossier_id TEXT NOT NULL REFERENCES dossiers(id),
            idx INTEGER NOT NULL,
            component TEXT NOT NULL DEFAULT '',
            media_type TEXT NOT NULL,
            blob TEXT NOT NULL,
            size INTEGER NOT NULL,
            plain_size INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (dossier_id, idx)
        )"""
    )
    db.execute("CREATE UNIQUE INDEX pages_blob ON pages(blob)")
    # The outbox table is the outbox's own (edge.outbox, migration set "outbox"): on a database
    # made before it had its set, the table is here already and that set leaves it as it is.
    db.execute(
        """CREATE TABLE audit (
            seq INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            dossier_id TEXT,
            details TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )"""
    )
    db.execute("CREATE TABLE code_counters (day TEXT PRIMARY KEY, last INTEGER NOT NULL)")


@store_migrations(name="0002_list_index")
def _list_index(db) -> None:
    # Keyset pagination of the dossier list: (created_at, counter) is the list's order.
    db.execute("CREATE INDEX IF NOT EXISTS dossiers_list ON dossiers(created_at DESC, counter DESC)")
    db.execute("CREATE INDEX IF NOT EXISTS dossiers_status_list ON dossiers(status, created_at DESC, counter DESC)")


#: The outcome of a closed dossier, from its metadata: "refused" (form 03), "supplement_requested"
#: (form 02), NULL when received (or a draft). Kept in a column by triggers, so a list shows and
#: filters it without reading any row's metadata.
OUTCOME_SQL = ("CASE json_extract({meta}, '$.outcome') WHEN 'refused' THEN 'refused' "
               "WHEN 'supplement_requested' THEN 'supplement_requested' END")


@store_migrations(name="0003_outcome_list")
def _outcome_list(db) -> None:
    # Expand step (docs/deploy.md §7): a new column, triggers and indexes; an older release
    # still runs on the migrated store (its writes keep the column right through the triggers).
    db.execute("ALTER TABLE dossiers ADD COLUMN outcome TEXT")
    db.execute(f"UPDATE dossiers SET outcome = {OUTCOME_SQL.format(meta='meta')}")
    for event in ("INSERT", "UPDATE OF meta"):
        name = "dossiers_outcome_" + event.split()[0].lower()
        db.execute(f"""CREATE TRIGGER {name} AFTER {event} ON dossiers BEGIN
            UPDATE dossiers SET outcome = {OUTCOME_SQL.format(meta='NEW.meta')} WHERE id = NEW.id; END""")
    db.execute("CREATE INDEX dossiers_outcome_list ON dossiers(outcome, created_at DESC, counter DESC) "
               "WHERE outcome IS NOT NULL")


def migration_sets() -> list[Migrations]:
    """The store's own set, then every set the installed packages registered, in their order.

    Packages contribute their sets through their ``_extension.register`` hook (see
    :mod:`edge._registry`); the composition root installs them. A set is loaded (its module
    imported) only here, when a store is created or opened.
    """
    sets = [store_migrations]
    for spec in REGISTRY.migrations:
        migrations = spec.load()
        if migrations.name != spec.name:
            raise RuntimeError(f"{spec.package} registered migration set {spec.name!r} but loaded {migrations.name!r}")
        sets.append(migrations)
    return sets


def apply_all(db) -> list[str]:
    """Apply every pending migration of every set; returns the names applied."""
    applied: list[str] = []
    for migrations in migration_sets():
        pending = [m.name for m in migrations.pending(db)]
        if pending:
            migrations.apply(db)
            applied += [f"{migrations.name}:{n}" for n in pending]
    return applied


# --- schema compatibility across a rollback (docs/deploy.md §7, "Migration policy") ----------
#: meta key: the oldest release that may open this store. Expand steps (new tables, columns,
#: indexes) leave it alone, so the release before still runs on the migrated store; a contract
#: step (one release later) raises it with :func:`require_version`.
SCHEMA_MIN_VERSION = "schema_min_version"


def app_version() -> str:
    try:
        from importlib.metadata import version

        return version("motcua")
    except Exception:
        return "0"


def version_key(text: str) -> tuple[int, ...]:
    """``0.2.0-1`` or ``0.2.0`` -> (0, 2, 0): the upstream version's leading numbers."""
    upstream = text.split(":", 1)[-1].split("-", 1)[0]
    parts = []
    for piece in upstream.split("."):
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        parts.append(int(digits or 0))
        if len(digits) != len(piece):
            break
    return tuple(parts)


def require_version(db, version: str) -> None:
    """For a contract step: the store may no longer be opened by a release older than ``version``."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", [SCHEMA_MIN_VERSION]).fetchone()
    if row is None or version_key(row[0]) < version_key(version):
        db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                   [SCHEMA_MIN_VERSION, version])


def refuse_newer_schema(min_version: str | None, *, running: str | None = None) -> None:
    """A release older than the store's ``schema_min_version`` refuses to open it, clearly."""
    from edge.errors import StoreError

    running = running or app_version()
    if min_version and version_key(running) < version_key(min_version):
        raise StoreError(f"this store was migrated for motcua {min_version} or newer and motcua {running} cannot "
                         f"open it: install motcua {min_version} or newer (migrations are forward-only)",
                         message_vi=f"Kho dữ liệu cần phiên bản motcua {min_version} trở lên; máy đang chạy "
                                    f"{running}. Hãy cài lại phiên bản mới.")
