//! Items, labels and the street query set in the store.

use super::{Store, Writer};
use crate::catalog::{Item, ItemId, Label, LabelGroup, NewItem, Partition, Source};
use crate::error::{Error, Result};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;
use std::collections::HashMap;

/// How many of each thing the library holds (`vitrine catalog --json`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CatalogCounts {
    pub items: u64,
    pub labels: u64,
    pub users: u64,
    pub ratings: u64,
    pub systems: u64,
    pub street_queries: u64,
}

/// A label with the number of items that carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelCount {
    pub label: Label,
    pub items: u64,
}

/// An item's id and its image path as stored (relative to the library root, or absolute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemImage {
    pub id: ItemId,
    pub image: String,
}

/// Which items to list. Every given label must be present (AND); `text` matches the title or
/// key, case-insensitively.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemFilter {
    pub labels: Vec<Label>,
    pub text: Option<String>,
}

impl<'a> Writer<'a> {
    /// Stores an item and its labels (creating labels it names for the first time).
    /// A key that already exists is an error naming the key.
    pub fn insert_item(&self, item: &NewItem) -> Result<ItemId> {
        if self.item_id(&item.key)?.is_some() {
            return Err(Error::Invalid(format!(
                "an item with id {:?} is already in the library",
                item.key
            )));
        }
        self.tx
            .prepare_cached(
                "INSERT INTO items (key, source, title, image, width_px, height_px, product, \
                 partition, in_stock) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                item.key,
                item.source.as_str(),
                item.title,
                item.image,
                item.width_px,
                item.height_px,
                item.product,
                item.partition.map(Partition::as_str),
                item.in_stock,
            ])?;
        let id = self.tx.last_insert_rowid();
        for label in &item.labels {
            let label_id = self.label_id(label)?;
            self.tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO item_labels (item_id, label_id) VALUES (?1, ?2)",
                )?
                .execute(params![id, label_id])?;
        }
        Ok(id)
    }

    /// Deletes an item (its labels, ratings and street queries go with it); `false` if there
    /// was no such item.
    pub fn delete_item(&self, id: ItemId) -> Result<bool> {
        let deleted = self
            .tx
            .prepare_cached("DELETE FROM items WHERE id = ?1")?
            .execute([id])?;
        Ok(deleted > 0)
    }

    /// Deletes the labels no item carries (after items were deleted); returns how many.
    pub fn delete_unused_labels(&self) -> Result<usize> {
        Ok(self.tx.execute(
            "DELETE FROM labels WHERE id NOT IN (SELECT label_id FROM item_labels)",
            [],
        )?)
    }

    /// The id of the item with this key, if stored (including earlier in this transaction).
    pub fn item_id(&self, key: &str) -> Result<Option<ItemId>> {
        Ok(self
            .tx
            .prepare_cached("SELECT id FROM items WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    fn label_id(&self, label: &Label) -> Result<i64> {
        self.tx
            .prepare_cached("INSERT OR IGNORE INTO labels (grp, name) VALUES (?1, ?2)")?
            .execute(params![label.group.as_str(), label.name])?;
        Ok(self
            .tx
            .prepare_cached("SELECT id FROM labels WHERE grp = ?1 AND name = ?2")?
            .query_row(params![label.group.as_str(), label.name], |r| r.get(0))?)
    }

    /// Records a street photo of `item_id` (the demo's street-to-shop query set).
    pub fn insert_street_query(&self, image: &str, item_id: ItemId) -> Result<i64> {
        self.tx
            .prepare_cached("INSERT INTO street_queries (image, item_id) VALUES (?1, ?2)")?
            .execute(params![image, item_id])?;
        Ok(self.tx.last_insert_rowid())
    }
}

/// The stored street query set: (query id, image path as stored, ground-truth item).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreetQuery {
    pub id: i64,
    pub image: String,
    pub item_id: ItemId,
}

impl Store {
    /// How many items, labels, users, ratings, systems and street queries there are.
    pub fn counts(&self) -> Result<CatalogCounts> {
        let count = |table: &str| -> Result<u64> {
            Ok(self
                .conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?)
        };
        Ok(CatalogCounts {
            items: count("items")?,
            labels: count("labels")?,
            users: count("users")?,
            ratings: count("ratings")?,
            systems: count("systems")?,
            street_queries: count("street_queries")?,
        })
    }

    /// How many items came from `source`.
    pub fn count_items_from(&self, source: Source) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM items WHERE source = ?1",
            [source.as_str()],
            |r| r.get(0),
        )?)
    }

    /// One item with its labels.
    pub fn item(&self, id: ItemId) -> Result<Option<Item>> {
        let item = self
            .conn
            .prepare_cached(&format!("SELECT {ITEM_COLUMNS} FROM items WHERE id = ?1"))?
            .query_row([id], item_from_row)
            .optional()?;
        let Some(mut item) = item else {
            return Ok(None);
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT l.grp, l.name FROM item_labels il JOIN labels l ON l.id = il.label_id \
             WHERE il.item_id = ?1 ORDER BY l.grp, l.name",
        )?;
        item.labels = stmt
            .query_map([id], label_from_row)?
            .collect::<rusqlite::Result<Vec<Option<Label>>>>()?
            .into_iter()
            .flatten()
            .collect();
        sort_labels(&mut item.labels);
        Ok(Some(item))
    }

    /// The id of the item with this key.
    pub fn item_id(&self, key: &str) -> Result<Option<ItemId>> {
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM items WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    /// The items that pass `filter`, in id order, with their labels.
    pub fn items(&self, filter: &ItemFilter) -> Result<Vec<Item>> {
        let mut sql = format!("SELECT {ITEM_COLUMNS} FROM items i WHERE 1");
        let mut args: Vec<String> = Vec::new();
        for label in &filter.labels {
            args.push(label.group.as_str().to_owned());
            args.push(label.name.clone());
            sql += &format!(
                " AND EXISTS (SELECT 1 FROM item_labels il JOIN labels l ON l.id = il.label_id \
                 WHERE il.item_id = i.id AND l.grp = ?{} AND l.name = ?{})",
                args.len() - 1,
                args.len()
            );
        }
        if let Some(text) = filter.text.as_deref().filter(|t| !t.trim().is_empty()) {
            args.push(format!("%{}%", text.trim()));
            sql += &format!(" AND (i.title LIKE ?{0} OR i.key LIKE ?{0})", args.len());
        }
        sql += " ORDER BY i.id";
        let mut items: Vec<Item> = self
            .conn
            .prepare(&sql)?
            .query_map(rusqlite::params_from_iter(args.iter()), item_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        let position: HashMap<ItemId, usize> =
            items.iter().enumerate().map(|(i, it)| (it.id, i)).collect();
        let mut stmt = self.conn.prepare(
            "SELECT il.item_id, l.grp, l.name FROM item_labels il JOIN labels l ON l.id = il.label_id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let id: ItemId = row.get(0)?;
            if let Some(&i) = position.get(&id) {
                let group: String = row.get(1)?;
                if let Some(group) = LabelGroup::parse(&group) {
                    items[i].labels.push(Label {
                        group,
                        name: row.get(2)?,
                    });
                }
            }
        }
        for item in &mut items {
            sort_labels(&mut item.labels);
        }
        Ok(items)
    }

    /// Every item's id and stored image path, in id order: what indexing needs, without the
    /// labels.
    pub fn item_images(&self) -> Result<Vec<ItemImage>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, image FROM items ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok(ItemImage {
                id: r.get(0)?,
                image: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The label groups at least one item is labelled in, in [`LabelGroup`] order: one index
    /// probe per label, cheap enough to ask when a form opens.
    pub fn label_groups(&self) -> Result<Vec<LabelGroup>> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT l.grp FROM labels l \
             WHERE EXISTS (SELECT 1 FROM item_labels il WHERE il.label_id = l.id)",
        )?;
        let mut groups: Vec<LabelGroup> = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?
            .iter()
            .filter_map(|g| LabelGroup::parse(g))
            .collect();
        groups.sort();
        Ok(groups)
    }

    /// Every label with the number of items carrying it, most frequent first.
    pub fn label_counts(&self) -> Result<Vec<LabelCount>> {
        let mut stmt = self.conn.prepare(
            "SELECT l.grp, l.name, count(il.item_id) AS n FROM labels l \
             LEFT JOIN item_labels il ON il.label_id = l.id \
             GROUP BY l.id ORDER BY n DESC, l.grp, l.name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(label_from_row(r)?.map(|label| LabelCount {
                label,
                items: r.get::<_, u64>(2).unwrap_or(0),
            }))
        })?;
        Ok(rows
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect())
    }

    /// The street-to-shop query set (demo libraries).
    pub fn street_queries(&self) -> Result<Vec<StreetQuery>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, image, item_id FROM street_queries ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok(StreetQuery {
                id: r.get(0)?,
                image: r.get(1)?,
                item_id: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

const ITEM_COLUMNS: &str =
    "id, key, source, title, image, width_px, height_px, product, partition, in_stock";

fn item_from_row(r: &Row<'_>) -> rusqlite::Result<Item> {
    let source: String = r.get(2)?;
    let partition: Option<String> = r.get(8)?;
    Ok(Item {
        id: r.get(0)?,
        key: r.get(1)?,
        // Sources are written by this program only; an unknown one reads as a CSV import.
        source: Source::parse(&source).unwrap_or(Source::Csv),
        title: r.get(3)?,
        image: r.get(4)?,
        width_px: r.get(5)?,
        height_px: r.get(6)?,
        product: r.get(7)?,
        partition: partition.as_deref().and_then(Partition::parse),
        in_stock: r.get(9)?,
        labels: Vec::new(),
    })
}

fn label_from_row(r: &Row<'_>) -> rusqlite::Result<Option<Label>> {
    let group: String = r.get(0)?;
    Ok(LabelGroup::parse(&group).map(|group| Label {
        group,
        name: r.get(1).unwrap_or_default(),
    }))
}

/// Labels in a stable reading order: by group (category first), then name.
fn sort_labels(labels: &mut [Label]) {
    labels.sort();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &str, labels: &[(LabelGroup, &str)]) -> NewItem {
        NewItem {
            key: key.into(),
            source: Source::Csv,
            title: format!("title of {key}"),
            image: format!("/img/{key}.png"),
            width_px: 10,
            height_px: 20,
            product: None,
            partition: None,
            in_stock: Some(true),
            labels: labels.iter().map(|(g, n)| Label::new(*g, n)).collect(),
        }
    }

    #[test]
    fn items_round_trip_with_labels_and_filters() {
        let mut store = Store::open_in_memory().unwrap();
        store
            .write(|w| {
                w.insert_item(&item(
                    "a",
                    &[(LabelGroup::Category, "dress"), (LabelGroup::Colour, "Red")],
                ))?;
                w.insert_item(&item(
                    "b",
                    &[(LabelGroup::Category, "boots"), (LabelGroup::Colour, "red")],
                ))?;
                Ok(())
            })
            .unwrap();
        let counts = store.counts().unwrap();
        assert_eq!((counts.items, counts.labels), (2, 3));
        let red = store
            .items(&ItemFilter {
                labels: vec![Label::new(LabelGroup::Colour, "red")],
                text: None,
            })
            .unwrap();
        assert_eq!(red.len(), 2);
        let dress = store
            .items(&ItemFilter {
                labels: vec![
                    Label::new(LabelGroup::Colour, "red"),
                    Label::new(LabelGroup::Category, "dress"),
                ],
                text: None,
            })
            .unwrap();
        assert_eq!(dress.len(), 1);
        assert_eq!(dress[0].key, "a");
        assert_eq!(dress[0].labels.len(), 2);
        let images = store.item_images().unwrap();
        assert_eq!(images.len(), 2);
        assert_eq!(images[0].image, "/img/a.png");
        assert!(!store.write(|w| w.delete_item(999)).unwrap());
        let by_text = store
            .items(&ItemFilter {
                labels: vec![],
                text: Some("OF B".into()),
            })
            .unwrap();
        assert_eq!(by_text.len(), 1);
        let one = store.item(by_text[0].id).unwrap().unwrap();
        assert_eq!(one.label_in(LabelGroup::Category), Some("boots"));
        let counts = store.label_counts().unwrap();
        assert_eq!(counts[0].label, Label::new(LabelGroup::Colour, "red"));
        assert_eq!(counts[0].items, 2);
    }

    #[test]
    fn a_duplicate_key_is_refused_by_name() {
        let mut store = Store::open_in_memory().unwrap();
        let err = store
            .write(|w| {
                w.insert_item(&item("same", &[]))?;
                w.insert_item(&item("same", &[]))
            })
            .unwrap_err();
        assert!(err.to_string().contains("\"same\""), "{err}");
        assert_eq!(store.counts().unwrap().items, 0);
    }
}
