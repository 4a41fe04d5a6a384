//! Where a catalogue comes from: the embedded demo generator and the importers for real
//! catalogue formats. Both write items through the store ([`crate::store::Writer`]) and
//! images into the library's folders; the item types they produce live in
//! [`crate::catalog`], below the store.

pub mod demo;
pub mod import;
