//! The six tabs. Each owns its state struct, its commands (an enum wrapped in
//! [`Command`](crate::gui::command::Command)) and their handling (`handle`), polls its own background
//! results in the app's state step (`poll`), and draws itself (`ui`). A tab never sees the
//! `App`: it gets its own state and the shared [`Runtime`](crate::gui::runtime::Runtime).

pub(crate) mod analyze;
pub(crate) mod catalog;
pub(crate) mod evaluate;
pub(crate) mod personalize;
pub(crate) mod search;
pub(crate) mod train;
