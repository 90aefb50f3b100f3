//! The wire dialects a session may speak: the one place the common crate
//! lists them (the common model and its events name none).

use serde::{Deserialize, Serialize};

/// Which wire dialect a session speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dialect {
    Jam,
    OriginChats,
    Nynja,
    V0,
    ChatNet,
}

impl Dialect {
    pub const ALL: [Dialect; 5] = [
        Dialect::Jam,
        Dialect::OriginChats,
        Dialect::Nynja,
        Dialect::V0,
        Dialect::ChatNet,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Jam => "jam",
            Dialect::OriginChats => "originchats",
            Dialect::Nynja => "nynja",
            Dialect::V0 => "v0",
            Dialect::ChatNet => "chatnet",
        }
    }
    pub fn index(self) -> usize {
        self as usize
    }
    /// Whether the dialect has forum threads; the others never hear of
    /// them, nor of what is said in them.
    pub fn has_threads(self) -> bool {
        matches!(self, Dialect::OriginChats)
    }
}
