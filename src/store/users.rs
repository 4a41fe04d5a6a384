//! Users and their ratings (the purchases that make a cart, paper eq. (4)).

use super::{Store, Writer};
use crate::catalog::{ItemId, Source};
use crate::error::Result;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

/// The database id of a user.
pub type UserId = i64;

/// One rating: a user gave `stars` (1–5) to an item; `seq` orders a user's purchases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rating {
    pub user_id: UserId,
    pub item_id: ItemId,
    pub stars: u8,
    pub seq: i64,
}

/// A user as listed: database id, key and how many items they rated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserSummary {
    pub id: UserId,
    pub key: String,
    pub ratings: u64,
}

impl<'a> Writer<'a> {
    /// Stores a user (or returns the existing one with this key).
    pub fn insert_user(&self, key: &str, source: Source) -> Result<UserId> {
        self.tx
            .prepare_cached("INSERT OR IGNORE INTO users (key, source) VALUES (?1, ?2)")?
            .execute(params![key, source.as_str()])?;
        Ok(self
            .tx
            .prepare_cached("SELECT id FROM users WHERE key = ?1")?
            .query_row([key], |r| r.get(0))?)
    }

    /// Stores a rating; a second rating of the same item by the same user replaces the first.
    pub fn insert_rating(&self, user: UserId, item: ItemId, stars: u8, seq: i64) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO ratings (user_id, item_id, stars, seq) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![user, item, stars, seq])?;
        Ok(())
    }
}

impl Store {
    /// A user's ratings in purchase order.
    pub fn ratings_of(&self, user: UserId) -> Result<Vec<Rating>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT user_id, item_id, stars, seq FROM ratings WHERE user_id = ?1 ORDER BY seq, item_id",
        )?;
        let rows = stmt.query_map([user], |r| {
            Ok(Rating {
                user_id: r.get(0)?,
                item_id: r.get(1)?,
                stars: r.get(2)?,
                seq: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The id of the user with this key.
    pub fn user_id(&self, key: &str) -> Result<Option<UserId>> {
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM users WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    /// Every user with their rating count, by id.
    pub fn users(&self) -> Result<Vec<UserSummary>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT u.id, u.key, COUNT(r.item_id) FROM users u \
             LEFT JOIN ratings r ON r.user_id = u.id GROUP BY u.id ORDER BY u.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(UserSummary {
                id: r.get(0)?,
                key: r.get(1)?,
                ratings: r.get::<_, i64>(2)? as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every rating, by user and then in purchase order (one read for the whole matrix).
    pub fn all_ratings(&self) -> Result<Vec<Rating>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT user_id, item_id, stars, seq FROM ratings ORDER BY user_id, seq, item_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Rating {
                user_id: r.get(0)?,
                item_id: r.get(1)?,
                stars: r.get(2)?,
                seq: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
