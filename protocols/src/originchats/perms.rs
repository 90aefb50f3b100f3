//! OriginChats permissions as views of the common bits.
//!
//! Role permissions are names (`send_messages`, `manage_roles`, ...), each
//! one bit. Channel permissions are lists of role names per action (`view`,
//! `send`, ...): the roles whose effective bits in that channel allow the
//! action. The guild's `@everyone` role is called `user`, and the guild
//! owner holds the pseudo-role `owner`, first in every list.

use serde_json::{Map, Value};

use crate::model::{Channel, Role};
use crate::permissions::{self as p, channel_permissions, guild_permissions};
use crate::Id;

use super::{EVERYONE, OWNER};

/// The handshake's `permissions`, in the reference's order, with their bits.
pub const ROLE_PERMISSIONS: [(&str, u64); 20] = [
    ("administrator", p::ADMINISTRATOR),
    ("manage_server", p::MANAGE_GUILD),
    ("view_audit_log", p::VIEW_AUDIT_LOG),
    ("manage_roles", p::MANAGE_ROLES),
    ("manage_channels", p::MANAGE_CHANNELS),
    ("manage_threads", p::MANAGE_THREADS),
    ("manage_users", p::MODERATE_MEMBERS),
    ("manage_messages", p::MANAGE_MESSAGES),
    ("read_message_history", p::READ_MESSAGE_HISTORY),
    ("send_messages", p::SEND_MESSAGES),
    ("embed_links", p::EMBED_LINKS),
    ("attach_files", p::ATTACH_FILES),
    ("add_reactions", p::ADD_REACTIONS),
    ("external_emojis", p::USE_EXTERNAL_EMOJIS),
    ("connect", p::CONNECT),
    ("speak", p::SPEAK),
    ("stream", p::STREAM),
    ("use_voice_activity", p::USE_VAD),
    ("mention_everyone", p::MENTION_EVERYONE),
    ("use_slash_commands", p::USE_APPLICATION_COMMANDS),
];

/// Channel actions and the bit each one is. Authors may always edit and
/// delete their own messages in Switchboard, so `edit_own` and
/// `delete_own` follow `view`.
pub const CHANNEL_ACTIONS: [(&str, u64); 8] = [
    ("view", p::VIEW_CHANNEL),
    ("send", p::SEND_MESSAGES),
    ("delete", p::MANAGE_MESSAGES),
    ("delete_own", p::VIEW_CHANNEL),
    ("edit_own", p::VIEW_CHANNEL),
    ("react", p::ADD_REACTIONS),
    ("pin", p::MANAGE_MESSAGES),
    ("create_thread", p::CREATE_PUBLIC_THREADS),
];

/// The permission names a set of bits holds.
pub fn role_permission_names(bits: u64) -> Vec<&'static str> {
    if bits & p::ADMINISTRATOR != 0 {
        return vec!["administrator"];
    }
    ROLE_PERMISSIONS
        .iter()
        .filter(|(_, b)| bits & b != 0)
        .map(|(n, _)| *n)
        .collect()
}

/// The OriginChats name of a role.
pub fn role_name(role: &Role) -> &str {
    if role.id == role.guild_id {
        EVERYONE
    } else {
        &role.name
    }
}

/// `channel.permissions`: for each action, the roles allowed it, owner
/// first, then roles by position, `user` last; roles an overwrite denies it
/// to appear as `!name`.
pub fn channel_permission_lists(channel: &Channel, roles: &[Role]) -> Map<String, Value> {
    let Some(guild_id) = channel.guild_id else {
        return Map::new();
    };
    let everyone = roles.iter().find(|r| r.id == guild_id);
    let nobody_owns = Id(u64::MAX);
    let member = Id::ZERO;
    let mut sorted: Vec<&Role> = roles.iter().filter(|r| r.id != guild_id).collect();
    sorted.sort_by_key(|r| (r.position, r.id));
    let bits_of = |role: Option<&Role>| {
        let member_roles: Vec<Id> = role.iter().map(|r| r.id).collect();
        let base = guild_permissions(nobody_owns, member, everyone, role);
        channel_permissions(base, guild_id, member, &member_roles, channel)
    };
    let everyone_bits = bits_of(None);
    let role_bits: Vec<(&Role, u64)> = sorted.iter().map(|r| (*r, bits_of(Some(r)))).collect();
    let mut out = Map::new();
    for (action, bit) in CHANNEL_ACTIONS {
        let mut names = vec![Value::from(OWNER)];
        for (role, bits) in &role_bits {
            let denied = channel
                .overwrites
                .iter()
                .any(|o| o.id == role.id && o.deny & bit != 0);
            if bits & bit != 0 {
                names.push(Value::from(role.name.clone()));
            } else if denied {
                names.push(Value::from(format!("!{}", role.name)));
            }
        }
        if everyone_bits & bit != 0 {
            names.push(Value::from(EVERYONE));
        }
        out.insert(action.to_string(), Value::Array(names));
    }
    out
}

/// Channel overwrites that make `lists` true: for every action a list is
/// given for, each role named gets the bit allowed, each role named `!role`
/// or not named gets it denied (`owner` needs nothing). `edit_own` and
/// `delete_own` are not written: authors may always edit and delete their
/// own messages. Unknown role names are an error naming the role.
pub fn overwrites_from_lists(
    lists: &Map<String, Value>,
    roles: &[Role],
    guild_id: Id,
) -> Result<Vec<crate::model::Overwrite>, String> {
    use crate::model::{Overwrite, OverwriteTarget};
    let mut allow: std::collections::BTreeMap<Id, u64> = Default::default();
    let mut deny: std::collections::BTreeMap<Id, u64> = Default::default();
    let id_of = |name: &str| -> Option<Id> {
        if name == EVERYONE {
            return Some(guild_id);
        }
        roles
            .iter()
            .find(|r| r.id != guild_id && r.name == name)
            .map(|r| r.id)
    };
    for (action, bit) in CHANNEL_ACTIONS {
        if matches!(action, "edit_own" | "delete_own") {
            continue;
        }
        let Some(list) = lists.get(action) else {
            continue;
        };
        let Some(list) = list.as_array() else {
            return Err(format!(
                "Permissions for '{action}' must be a list of role names"
            ));
        };
        let mut allowed = Vec::new();
        for entry in list {
            let name = entry.as_str().unwrap_or_default();
            if name == OWNER {
                continue;
            }
            let (negated, name) = match name.strip_prefix('!') {
                Some(n) => (true, n),
                None => (false, name),
            };
            let Some(id) = id_of(name) else {
                return Err(format!("Role '{name}' not found"));
            };
            if negated {
                *deny.entry(id).or_default() |= bit;
            } else {
                allowed.push(id);
            }
        }
        for role in roles {
            if allowed.contains(&role.id) {
                *allow.entry(role.id).or_default() |= bit;
            } else {
                *deny.entry(role.id).or_default() |= bit;
            }
        }
    }
    let ids: std::collections::BTreeSet<Id> = allow.keys().chain(deny.keys()).copied().collect();
    Ok(ids
        .into_iter()
        .map(|id| {
            let a = allow.get(&id).copied().unwrap_or(0);
            Overwrite {
                id,
                target: OverwriteTarget::Role,
                allow: a,
                // An action both allowed and denied for one role (two
                // actions share a bit) stays allowed.
                deny: deny.get(&id).copied().unwrap_or(0) & !a,
            }
        })
        .filter(|o| o.allow != 0 || o.deny != 0)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChannelKind, Overwrite, OverwriteTarget};
    use serde_json::json;

    fn role(id: u64, name: &str, bits: u64, position: i32) -> Role {
        Role {
            id: Id(id),
            guild_id: Id(1),
            name: name.into(),
            color: 0,
            permissions: bits,
            position,
            hoisted: false,
            self_assignable: false,
            description: String::new(),
            category: None,
        }
    }

    #[test]
    fn lists_follow_roles_and_overwrites() {
        let roles = vec![
            role(1, "@everyone", p::EVERYONE_DEFAULT, 0),
            role(2, "moderator", p::MANAGE_MESSAGES, 1),
            role(3, "muted", 0, 2),
        ];
        let channel = Channel {
            id: Id(10),
            guild_id: Some(Id(1)),
            category_id: None,
            name: "general".into(),
            kind: ChannelKind::Text,
            topic: String::new(),
            position: 0,
            encrypted: false,
            recipients: vec![],
            overwrites: vec![Overwrite {
                id: Id(3),
                target: OverwriteTarget::Role,
                allow: 0,
                deny: p::SEND_MESSAGES,
            }],
            created_at: 0,
            thread: None,
        };
        let lists = channel_permission_lists(&channel, &roles);
        assert_eq!(
            lists["view"],
            json!(["owner", "moderator", "muted", "user"])
        );
        assert_eq!(
            lists["send"],
            json!(["owner", "moderator", "!muted", "user"])
        );
        assert_eq!(lists["delete"], json!(["owner", "moderator"]));
        assert_eq!(lists["pin"], json!(["owner", "moderator"]));
    }

    #[test]
    fn lists_written_as_overwrites_read_back_the_same() {
        let roles = vec![
            role(1, "@everyone", p::EVERYONE_DEFAULT, 0),
            role(2, "mods", p::MANAGE_MESSAGES, 1),
        ];
        let lists = json!({"view": ["owner", "mods"], "send": ["owner", "mods", "!user"]});
        let overwrites = overwrites_from_lists(lists.as_object().unwrap(), &roles, Id(1)).unwrap();
        let channel = Channel {
            id: Id(10),
            guild_id: Some(Id(1)),
            category_id: None,
            name: "staff".into(),
            kind: ChannelKind::Text,
            topic: String::new(),
            position: 0,
            encrypted: false,
            recipients: vec![],
            overwrites,
            created_at: 0,
            thread: None,
        };
        let back = channel_permission_lists(&channel, &roles);
        assert_eq!(back["view"], json!(["owner", "mods"]));
        assert_eq!(back["send"], json!(["owner", "mods"]));
        assert!(overwrites_from_lists(
            json!({"view": ["ghosts"]}).as_object().unwrap(),
            &roles,
            Id(1)
        )
        .unwrap_err()
        .contains("ghosts"));
    }

    #[test]
    fn permission_names_round_trip_bits() {
        assert_eq!(
            role_permission_names(p::ADMINISTRATOR | p::SEND_MESSAGES),
            vec!["administrator"]
        );
        assert_eq!(
            role_permission_names(p::SEND_MESSAGES | p::CONNECT),
            vec!["send_messages", "connect"]
        );
        let all: u64 = ROLE_PERMISSIONS
            .iter()
            .map(|(_, b)| b)
            .fold(0, |a, b| a | b);
        assert_eq!(all & !p::ALL, 0, "every named bit is a known bit");
    }
}
