//! Fixtures shared by the store's unit tests.

use std::path::Path;

use switchboard_protocols::model::{
    Category, Channel, ChannelKind, Guild, Invite, Member, Message, Role, User,
};
use switchboard_protocols::Id;

use super::{Durability, Store, StoreConfig, StoreError};

pub fn cfg(path: &Path, durability: Durability) -> StoreConfig {
    StoreConfig {
        path: path.to_path_buf(),
        durability,
        flush_every_ms: 100,
        cache_capacity_bytes: 8 * 1024 * 1024,
    }
}

pub fn open_tmp_with(durability: Durability) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&cfg(dir.path(), durability)).unwrap();
    (dir, store)
}

pub fn open_tmp() -> (tempfile::TempDir, Store) {
    open_tmp_with(Durability::Batched)
}

/// Opens a database this process had open a moment ago. sled's IO threads
/// release the file lock shortly *after* the last handle drops, so a
/// same-process reopen can briefly see "could not acquire lock".
pub fn reopen_result(path: &Path, durability: Durability) -> Result<Store, StoreError> {
    for _ in 0..400 {
        match Store::open(&cfg(path, durability)) {
            Err(StoreError::Sled(sled::Error::Io(e))) if e.to_string().contains("lock") => {
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            other => return other,
        }
    }
    Store::open(&cfg(path, durability))
}

pub fn reopen(path: &Path, durability: Durability) -> Store {
    reopen_result(path, durability).unwrap()
}

pub fn user(id: u64, name: &str) -> User {
    User {
        id: Id(id),
        username: name.into(),
        display_name: name.into(),
        avatar: None,
        domain: None,
        public_key: None,
        bot: false,
        created_at: 1,
    }
}

pub fn guild(id: u64, owner: u64) -> Guild {
    Guild {
        id: Id(id),
        name: format!("g{id}"),
        description: String::new(),
        owner_id: Id(owner),
        icon: None,
        banner: None,
        created_at: 2,
    }
}

pub fn category(id: u64, guild: u64) -> Category {
    Category {
        id: Id(id),
        guild_id: Id(guild),
        name: format!("cat{id}"),
        position: 0,
    }
}

pub fn channel(id: u64, guild: Option<u64>) -> Channel {
    Channel {
        id: Id(id),
        guild_id: guild.map(Id),
        category_id: None,
        name: format!("c{id}"),
        kind: ChannelKind::Text,
        topic: String::new(),
        position: 0,
        encrypted: false,
        recipients: vec![],
        overwrites: vec![],
        created_at: 3,
        thread: None,
    }
}

pub fn dm_channel(id: u64, recipients: &[u64]) -> Channel {
    Channel {
        kind: if recipients.len() == 2 {
            ChannelKind::Dm
        } else {
            ChannelKind::Group
        },
        recipients: recipients.iter().copied().map(Id).collect(),
        ..channel(id, None)
    }
}

pub fn role(id: u64, guild: u64) -> Role {
    Role {
        id: Id(id),
        guild_id: Id(guild),
        name: format!("r{id}"),
        color: 0,
        permissions: 1 << 10,
        position: 1,
        hoisted: false,
        self_assignable: false,
        description: String::new(),
        category: None,
    }
}

pub fn member(guild: u64, user: u64) -> Member {
    Member {
        guild_id: Id(guild),
        user_id: Id(user),
        roles: vec![],
        nick: None,
        joined_at: 4,
        timeout_until: None,
    }
}

pub fn invite(code: &str, guild: u64) -> Invite {
    Invite {
        code: code.into(),
        guild_id: Id(guild),
        inviter_id: Id(1),
        created_at: 5,
    }
}

pub fn message(channel: u64, id: u64, author: u64) -> Message {
    Message {
        id: Id(id),
        channel_id: Id(channel),
        guild_id: None,
        author_id: Id(author),
        content: format!("m{id}"),
        encrypted: false,
        nonce: None,
        attachments: vec![],
        reply_to: None,
        reactions: vec![],
        pinned: false,
        created_at: id as i64,
        edited_at: None,
        binary: false,
        client_ref: None,
    }
}
