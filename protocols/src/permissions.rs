//! Permission bits (Discord's positions for the subset Switchboard uses) and
//! their resolution: roles, then channel overwrites, with the guild owner
//! and ADMINISTRATOR passing every check.

use crate::model::{Channel, Overwrite, OverwriteTarget, Role};
use crate::Id;

pub const CREATE_INVITE: u64 = 1 << 0;
pub const KICK_MEMBERS: u64 = 1 << 1;
pub const BAN_MEMBERS: u64 = 1 << 2;
pub const ADMINISTRATOR: u64 = 1 << 3;
pub const MANAGE_CHANNELS: u64 = 1 << 4;
pub const MANAGE_GUILD: u64 = 1 << 5;
pub const ADD_REACTIONS: u64 = 1 << 6;
pub const STREAM: u64 = 1 << 9;
pub const VIEW_CHANNEL: u64 = 1 << 10;
pub const SEND_MESSAGES: u64 = 1 << 11;
pub const MANAGE_MESSAGES: u64 = 1 << 13;
pub const ATTACH_FILES: u64 = 1 << 15;
pub const READ_MESSAGE_HISTORY: u64 = 1 << 16;
pub const MENTION_EVERYONE: u64 = 1 << 17;
pub const CONNECT: u64 = 1 << 20;
pub const SPEAK: u64 = 1 << 21;
pub const MUTE_MEMBERS: u64 = 1 << 22;
pub const DEAFEN_MEMBERS: u64 = 1 << 23;
pub const MOVE_MEMBERS: u64 = 1 << 24;
pub const MANAGE_ROLES: u64 = 1 << 28;
pub const VIEW_AUDIT_LOG: u64 = 1 << 7;
pub const EMBED_LINKS: u64 = 1 << 14;
pub const USE_EXTERNAL_EMOJIS: u64 = 1 << 18;
pub const USE_VAD: u64 = 1 << 25;
pub const USE_APPLICATION_COMMANDS: u64 = 1 << 31;
pub const MANAGE_THREADS: u64 = 1 << 34;
pub const CREATE_PUBLIC_THREADS: u64 = 1 << 35;
pub const MODERATE_MEMBERS: u64 = 1 << 40;

/// Every bit Switchboard knows.
pub const ALL: u64 = CREATE_INVITE
    | KICK_MEMBERS
    | BAN_MEMBERS
    | ADMINISTRATOR
    | MANAGE_CHANNELS
    | MANAGE_GUILD
    | ADD_REACTIONS
    | STREAM
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | MANAGE_MESSAGES
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | MENTION_EVERYONE
    | CONNECT
    | SPEAK
    | MUTE_MEMBERS
    | DEAFEN_MEMBERS
    | MOVE_MEMBERS
    | MANAGE_ROLES
    | VIEW_AUDIT_LOG
    | EMBED_LINKS
    | USE_EXTERNAL_EMOJIS
    | USE_VAD
    | USE_APPLICATION_COMMANDS
    | MANAGE_THREADS
    | CREATE_PUBLIC_THREADS
    | MODERATE_MEMBERS;

/// What `@everyone` holds in a new guild.
pub const EVERYONE_DEFAULT: u64 = VIEW_CHANNEL
    | SEND_MESSAGES
    | ADD_REACTIONS
    | READ_MESSAGE_HISTORY
    | ATTACH_FILES
    | CONNECT
    | SPEAK
    | STREAM
    | CREATE_INVITE;

/// What one member holds in a guild, before any channel overwrite.
///
/// `everyone` is the `@everyone` role (id = guild id); `roles` are the
/// member's other roles.
pub fn guild_permissions<'a>(
    owner_id: Id,
    user_id: Id,
    everyone: Option<&Role>,
    roles: impl IntoIterator<Item = &'a Role>,
) -> u64 {
    if user_id == owner_id {
        return ALL;
    }
    let mut bits = everyone.map_or(0, |r| r.permissions);
    for role in roles {
        bits |= role.permissions;
    }
    if bits & ADMINISTRATOR != 0 {
        ALL
    } else {
        bits
    }
}

/// Applies a channel's overwrites to guild-level bits.
///
/// Order: the `@everyone` overwrite, then the member's role overwrites
/// combined, then the member's own overwrite. At each level deny wins over
/// allow. Owners and administrators are not subject to overwrites.
pub fn channel_permissions(
    base: u64,
    guild_id: Id,
    user_id: Id,
    member_roles: &[Id],
    channel: &Channel,
) -> u64 {
    if base & ADMINISTRATOR != 0 {
        return ALL;
    }
    let mut bits = base;
    // ADMINISTRATOR is a guild-level bit only: an overwrite allowing it
    // (refused when written, but possibly stored earlier) grants nothing.
    let apply = |bits: u64, allow: u64, deny: u64| (bits | (allow & !ADMINISTRATOR)) & !deny;
    let is_role = |o: &&Overwrite| o.target == OverwriteTarget::Role;
    if let Some(o) = channel
        .overwrites
        .iter()
        .filter(is_role)
        .find(|o| o.id == guild_id)
    {
        bits = apply(bits, o.allow, o.deny);
    }
    let (mut allow, mut deny) = (0, 0);
    for o in channel
        .overwrites
        .iter()
        .filter(is_role)
        .filter(|o| o.id != guild_id && member_roles.contains(&o.id))
    {
        allow |= o.allow;
        deny |= o.deny;
    }
    bits = apply(bits, allow, deny);
    if let Some(o) = channel
        .overwrites
        .iter()
        .find(|o| o.target == OverwriteTarget::Member && o.id == user_id)
    {
        bits = apply(bits, o.allow, o.deny);
    }
    bits
}

/// A place in a guild's role hierarchy; the smaller ranks higher.
///
/// The one order is the one `roles_list` shows: roles by `position`
/// (0 at the top), ties by id, and `@everyone` (id = guild id) always
/// last, whatever its stored position. See docs/decisions.md, "Role
/// hierarchy".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rank {
    everyone: bool,
    position: i32,
    id: Id,
}

impl Rank {
    /// `@everyone`'s rank: the lowest there is.
    pub fn everyone(guild_id: Id) -> Rank {
        Rank {
            everyone: true,
            position: 0,
            id: guild_id,
        }
    }

    /// The role's stored position (0 for `@everyone`).
    pub fn position(&self) -> i32 {
        self.position
    }

    pub fn is_everyone(&self) -> bool {
        self.everyone
    }
}

/// Where `role` stands in the hierarchy of guild `guild_id`.
pub fn role_rank(guild_id: Id, role: &Role) -> Rank {
    if role.id == guild_id {
        Rank::everyone(guild_id)
    } else {
        Rank {
            everyone: false,
            position: role.position,
            id: role.id,
        }
    }
}

/// A member's highest role (`@everyone` for a member without roles).
pub fn top_rank<'a>(guild_id: Id, roles: impl IntoIterator<Item = &'a Role>) -> Rank {
    roles
        .into_iter()
        .map(|r| role_rank(guild_id, r))
        .min()
        .unwrap_or_else(|| Rank::everyone(guild_id))
}

/// Names of the bits, for error messages ("Missing permission SEND_MESSAGES").
pub fn name(bit: u64) -> &'static str {
    match bit {
        CREATE_INVITE => "CREATE_INVITE",
        KICK_MEMBERS => "KICK_MEMBERS",
        BAN_MEMBERS => "BAN_MEMBERS",
        ADMINISTRATOR => "ADMINISTRATOR",
        MANAGE_CHANNELS => "MANAGE_CHANNELS",
        MANAGE_GUILD => "MANAGE_GUILD",
        ADD_REACTIONS => "ADD_REACTIONS",
        STREAM => "STREAM",
        VIEW_CHANNEL => "VIEW_CHANNEL",
        SEND_MESSAGES => "SEND_MESSAGES",
        MANAGE_MESSAGES => "MANAGE_MESSAGES",
        ATTACH_FILES => "ATTACH_FILES",
        READ_MESSAGE_HISTORY => "READ_MESSAGE_HISTORY",
        MENTION_EVERYONE => "MENTION_EVERYONE",
        CONNECT => "CONNECT",
        SPEAK => "SPEAK",
        MUTE_MEMBERS => "MUTE_MEMBERS",
        DEAFEN_MEMBERS => "DEAFEN_MEMBERS",
        MOVE_MEMBERS => "MOVE_MEMBERS",
        MANAGE_ROLES => "MANAGE_ROLES",
        VIEW_AUDIT_LOG => "VIEW_AUDIT_LOG",
        EMBED_LINKS => "EMBED_LINKS",
        USE_EXTERNAL_EMOJIS => "USE_EXTERNAL_EMOJIS",
        USE_VAD => "USE_VAD",
        USE_APPLICATION_COMMANDS => "USE_APPLICATION_COMMANDS",
        MANAGE_THREADS => "MANAGE_THREADS",
        CREATE_PUBLIC_THREADS => "CREATE_PUBLIC_THREADS",
        MODERATE_MEMBERS => "MODERATE_MEMBERS",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChannelKind, Overwrite};

    fn role(id: u64, perms: u64) -> Role {
        Role {
            id: Id(id),
            guild_id: Id(1),
            name: format!("r{id}"),
            color: 0,
            permissions: perms,
            position: 0,
            hoisted: false,
            self_assignable: false,
            description: String::new(),
            category: None,
        }
    }

    fn channel(overwrites: Vec<Overwrite>) -> Channel {
        Channel {
            id: Id(50),
            guild_id: Some(Id(1)),
            category_id: None,
            name: "c".into(),
            kind: ChannelKind::Text,
            topic: String::new(),
            position: 0,
            encrypted: false,
            recipients: vec![],
            overwrites,
            created_at: 0,
            thread: None,
        }
    }

    fn ow(id: u64, target: OverwriteTarget, allow: u64, deny: u64) -> Overwrite {
        Overwrite {
            id: Id(id),
            target,
            allow,
            deny,
        }
    }

    #[test]
    fn owner_and_administrator_pass_everything() {
        let everyone = role(1, 0);
        assert_eq!(guild_permissions(Id(9), Id(9), Some(&everyone), []), ALL);
        let admin = role(2, ADMINISTRATOR);
        let base = guild_permissions(Id(9), Id(5), Some(&everyone), [&admin]);
        assert_eq!(base, ALL);
        let ch = channel(vec![ow(1, OverwriteTarget::Role, 0, VIEW_CHANNEL)]);
        assert_eq!(channel_permissions(base, Id(1), Id(5), &[Id(2)], &ch), ALL);
    }

    #[test]
    fn administrator_never_comes_from_an_overwrite() {
        let everyone = role(1, EVERYONE_DEFAULT);
        let base = guild_permissions(Id(9), Id(5), Some(&everyone), []);
        let ch = channel(vec![
            ow(1, OverwriteTarget::Role, ADMINISTRATOR, 0),
            ow(
                5,
                OverwriteTarget::Member,
                ADMINISTRATOR | MANAGE_MESSAGES,
                0,
            ),
        ]);
        let p = channel_permissions(base, Id(1), Id(5), &[], &ch);
        assert_eq!(p & ADMINISTRATOR, 0);
        assert_eq!(p & MANAGE_ROLES, 0);
        // The other bits of the overwrite still count.
        assert_ne!(p & MANAGE_MESSAGES, 0);
    }

    #[test]
    fn ranks_follow_position_with_everyone_last() {
        let mut top = role(7, 0);
        top.position = 1;
        let mut low = role(3, 0);
        low.position = 5;
        let mut tie = role(8, 0);
        tie.position = 1;
        // @everyone is stored at position 0 but ranks last.
        let everyone = role(1, 0);
        let g = Id(1);
        assert!(role_rank(g, &top) < role_rank(g, &low));
        assert!(role_rank(g, &top) < role_rank(g, &tie), "ties go by id");
        assert!(role_rank(g, &low) < role_rank(g, &everyone));
        assert_eq!(top_rank(g, [&low, &top]), role_rank(g, &top));
        assert_eq!(top_rank(g, []), Rank::everyone(g));
        assert_eq!(top_rank(g, [&everyone]), Rank::everyone(g));
    }

    #[test]
    fn deny_wins_at_a_level_and_member_beats_role() {
        let everyone = role(1, EVERYONE_DEFAULT);
        let base = guild_permissions(Id(9), Id(5), Some(&everyone), []);
        let ch = channel(vec![
            ow(1, OverwriteTarget::Role, 0, SEND_MESSAGES),
            ow(3, OverwriteTarget::Role, SEND_MESSAGES, 0),
            ow(4, OverwriteTarget::Role, 0, SEND_MESSAGES),
        ]);
        // @everyone denies; role 3 allows, role 4 denies: deny wins.
        let p = channel_permissions(base, Id(1), Id(5), &[Id(3), Id(4)], &ch);
        assert_eq!(p & SEND_MESSAGES, 0);
        // role 3 alone restores it.
        let p = channel_permissions(base, Id(1), Id(5), &[Id(3)], &ch);
        assert_ne!(p & SEND_MESSAGES, 0);
        // a member overwrite beats the role deny.
        let mut ch2 = ch.clone();
        ch2.overwrites
            .push(ow(5, OverwriteTarget::Member, SEND_MESSAGES, 0));
        let p = channel_permissions(base, Id(1), Id(5), &[Id(4)], &ch2);
        assert_ne!(p & SEND_MESSAGES, 0);
    }
}
