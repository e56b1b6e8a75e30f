import GRDB

/// The store's tables, created and evolved only through GRDB's migrator: a database made by
/// an older build is brought up to date on open, never rebuilt.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                    CREATE TABLE users (
                        id TEXT PRIMARY KEY NOT NULL,
                        created_at INTEGER NOT NULL,
                        attributes TEXT
                    );
                    CREATE TABLE items (
                        id TEXT PRIMARY KEY NOT NULL,
                        created_at INTEGER NOT NULL,
                        title TEXT,
                        attributes TEXT
                    );
                    -- Every interaction: the seed's ratings and every feedback event, once per event id.
                    CREATE TABLE interactions (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        event_id TEXT NOT NULL UNIQUE,
                        user TEXT NOT NULL,
                        item TEXT NOT NULL,
                        event TEXT NOT NULL,
                        value REAL NOT NULL,
                        request_id TEXT,
                        received_at INTEGER NOT NULL,
                        stored_at INTEGER NOT NULL,
                        source TEXT NOT NULL
                    );
                    CREATE INDEX interactions_request ON interactions(request_id) WHERE request_id IS NOT NULL;
                    CREATE INDEX interactions_user ON interactions(user);
                    CREATE TABLE served_lists (
                        request_id TEXT PRIMARY KEY NOT NULL,
                        user TEXT NOT NULL,
                        epoch INTEGER NOT NULL,
                        served_at INTEGER NOT NULL,
                        pipeline TEXT NOT NULL,
                        propensity REAL,
                        experiment TEXT
                    );
                    -- One row per item of a served list; sources: JSON array of recall agents name@version.
                    CREATE TABLE served_items (
                        request_id TEXT NOT NULL REFERENCES served_lists(request_id) ON DELETE CASCADE,
                        rank INTEGER NOT NULL,
                        item TEXT NOT NULL,
                        score REAL NOT NULL,
                        sources TEXT NOT NULL,
                        PRIMARY KEY (request_id, rank)
                    );
                    CREATE TABLE agent_versions (
                        name TEXT NOT NULL,
                        version TEXT NOT NULL,
                        kind TEXT,
                        parameters TEXT,
                        first_seen INTEGER NOT NULL,
                        PRIMARY KEY (name, version)
                    );
                    CREATE TABLE experiments (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        proposal TEXT NOT NULL,
                        diff TEXT,
                        offline_results TEXT,
                        online_results TEXT,
                        decision TEXT,
                        created_at INTEGER NOT NULL,
                        decided_at INTEGER
                    );
                    """)
        }
        return migrator
    }
}
