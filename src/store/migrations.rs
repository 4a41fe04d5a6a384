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
];
