//! The schema, as an add-only list of migrations keyed by `PRAGMA user_version` (the way
//! cargo's `util/sqlite.rs` does it). Never edit a migration that has shipped: append one.

/// Migration `i` takes the schema from version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the catalogue, users and ratings, systems, the demo street query set.
    r#"
    CREATE TABLE items (
        id          INTEGER PRIMARY KEY,
        key         TEXT NOT NULL UNIQUE,
        source      TEXT NOT NULL,
        title       TEXT NOT NULL DEFAULT '',
        image       TEXT NOT NULL,
        width_px    INTEGER NOT NULL,
        height_px   INTEGER NOT NULL,
        product     TEXT,
        partition   TEXT CHECK (partition IN ('train', 'query', 'gallery')),
        in_stock    INTEGER,
        added_at    TEXT NOT NULL DEFAULT (datetime('now'))
    );
    CREATE INDEX items_product ON items(product);
    CREATE TABLE labels (
        id    INTEGER PRIMARY KEY,
        grp   TEXT NOT NULL,
        name  TEXT NOT NULL,
        UNIQUE (grp, name)
    );
    CREATE TABLE item_labels (
        item_id   INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        label_id  INTEGER NOT NULL REFERENCES labels(id) ON DELETE CASCADE,
        PRIMARY KEY (item_id, label_id)
    ) WITHOUT ROWID;
    CREATE INDEX item_labels_label ON item_labels(label_id);
    CREATE TABLE users (
        id      INTEGER PRIMARY KEY,
        key     TEXT NOT NULL UNIQUE,
        source  TEXT NOT NULL
    );
    CREATE TABLE ratings (
        user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        item_id  INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        stars    INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),
        seq      INTEGER NOT NULL,
        PRIMARY KEY (user_id, item_id)
    ) WITHOUT ROWID;
    CREATE INDEX ratings_item ON ratings(item_id);
    CREATE TABLE systems (
        name           TEXT PRIMARY KEY,
        backbone       TEXT NOT NULL,
        embedding_dim  INTEGER NOT NULL,
        label_count    INTEGER NOT NULL,
        created_at     TEXT NOT NULL DEFAULT (datetime('now')),
        metrics_json   TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE street_queries (
        id       INTEGER PRIMARY KEY,
        image    TEXT NOT NULL UNIQUE,
        item_id  INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE
    );
    "#,
    // 2: objective-guided human score studies (ARCHITECTURE.md §8): criteria, systems, the query
    // set, the sheets frozen at creation (query × system → K items), every scorer's answers, and
    // where each scorer stopped.
    r#"
    CREATE TABLE studies (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        goal        TEXT NOT NULL DEFAULT '',
        k           INTEGER NOT NULL CHECK (k >= 1),
        seed        INTEGER NOT NULL,
        created_at  TEXT NOT NULL DEFAULT (datetime('now'))
    );
    CREATE TABLE study_criteria (
        study_id     INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
        position     INTEGER NOT NULL,
        name         TEXT NOT NULL,
        description  TEXT NOT NULL DEFAULT '',
        weight       REAL NOT NULL CHECK (weight >= 0),
        direction    TEXT NOT NULL CHECK (direction IN ('more', 'fewer')),
        PRIMARY KEY (study_id, position),
        UNIQUE (study_id, name)
    ) WITHOUT ROWID;
    CREATE TABLE study_systems (
        study_id  INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
        position  INTEGER NOT NULL,
        name      TEXT NOT NULL,
        PRIMARY KEY (study_id, position),
        UNIQUE (study_id, name)
    ) WITHOUT ROWID;
    CREATE TABLE study_queries (
        id        INTEGER PRIMARY KEY,
        study_id  INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
        position  INTEGER NOT NULL,
        image     TEXT NOT NULL,
        domain    TEXT NOT NULL CHECK (domain IN ('shop', 'street')),
        item_id   INTEGER,
        UNIQUE (study_id, position)
    );
    CREATE TABLE sheets (
        id        INTEGER PRIMARY KEY,
        study_id  INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
        query_id  INTEGER NOT NULL REFERENCES study_queries(id) ON DELETE CASCADE,
        system    TEXT NOT NULL,
        UNIQUE (query_id, system)
    );
    CREATE INDEX sheets_study ON sheets(study_id);
    CREATE TABLE sheet_items (
        sheet_id  INTEGER NOT NULL REFERENCES sheets(id) ON DELETE CASCADE,
        rank      INTEGER NOT NULL,
        item_id   INTEGER NOT NULL,
        image     TEXT NOT NULL,
        PRIMARY KEY (sheet_id, rank)
    ) WITHOUT ROWID;
    CREATE TABLE scores (
        sheet_id   INTEGER NOT NULL REFERENCES sheets(id) ON DELETE CASCADE,
        scorer     TEXT NOT NULL,
        criterion  TEXT NOT NULL,
        hits       INTEGER NOT NULL CHECK (hits >= 0),
        marks      TEXT,
        given_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (sheet_id, scorer, criterion)
    ) WITHOUT ROWID;
    CREATE TABLE scorer_positions (
        study_id   INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
        scorer     TEXT NOT NULL,
        sheet_pos  INTEGER NOT NULL,
        criterion  INTEGER NOT NULL,
        PRIMARY KEY (study_id, scorer)
    ) WITHOUT ROWID;
    "#,
    // 3: machine pre-filled objective criteria (issue 19): a criterion's rule, the machine's
    // count per sheet and criterion frozen with the sheet, and what each answer did with the
    // pre-fill. Older rows read as "no rule" and "no pre-fill".
    r#"
    ALTER TABLE study_criteria ADD COLUMN objective TEXT
        CHECK (objective IS NULL OR objective IN ('category', 'colour'));
    CREATE TABLE sheet_machine_counts (
        sheet_id   INTEGER NOT NULL REFERENCES sheets(id) ON DELETE CASCADE,
        criterion  TEXT NOT NULL,
        marks      TEXT NOT NULL,
        PRIMARY KEY (sheet_id, criterion)
    ) WITHOUT ROWID;
    ALTER TABLE scores ADD COLUMN prefill TEXT NOT NULL DEFAULT 'none'
        CHECK (prefill IN ('none', 'confirmed', 'corrected'));
    "#,
    // 4: whether a study lets its scorers see why each result is similar (heatmaps on the
    // sheet). Older studies read as "no": they were scored without.
    r#"
    ALTER TABLE studies ADD COLUMN show_explanations INTEGER NOT NULL DEFAULT 0;
    "#,
];
