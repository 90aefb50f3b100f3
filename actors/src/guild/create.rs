//! Guild creation (a new actor) and joining, and the default guild every
//! new user lands in.

use std::sync::Arc;

use switchboard_protocols::command::Command;
use switchboard_protocols::model::{Channel, ChannelKind, Guild, Member, Role, User};
use switchboard_protocols::permissions::EVERYONE_DEFAULT;
use switchboard_protocols::time::now_ms;
use switchboard_protocols::{GatewayError, GatewayResult, Id};

use super::commands::clean_name;
use super::Join;
use crate::hub::SessionsOf;
use crate::store::Store;
use crate::world::{Caller, Reply, World};

const DEFAULT_GUILD_KEY: &str = "default_guild";
const SYSTEM_USER_KEY: &str = "system_user";

/// Writes a new guild with `@everyone` (id = guild id), its channels and
/// its owner as first member.
fn write_guild(
    world: &World,
    owner: Id,
    name: &str,
    description: &str,
    text: &[String],
    voice: &[String],
) -> GatewayResult<Guild> {
    let store: &Store = &world.store;
    let now = now_ms();
    let guild = Guild {
        id: world.ids.next(),
        name: clean_name(name, "Guild name")?,
        description: description.chars().take(1024).collect(),
        owner_id: owner,
        icon: None,
        banner: None,
        created_at: now,
    };
    store.put_guild(&guild)?;
    store.put_role(&Role {
        id: guild.id,
        guild_id: guild.id,
        name: "@everyone".into(),
        color: 0,
        permissions: EVERYONE_DEFAULT,
        position: 0,
        hoisted: false,
        self_assignable: false,
        description: String::new(),
        category: None,
    })?;
    let kinds = text
        .iter()
        .map(|n| (n, ChannelKind::Text))
        .chain(voice.iter().map(|n| (n, ChannelKind::Voice)));
    for (position, (name, kind)) in kinds.enumerate() {
        store.put_channel(&Channel {
            id: world.ids.next(),
            guild_id: Some(guild.id),
            category_id: None,
            name: clean_name(name, "Channel name")?,
            kind,
            topic: String::new(),
            position: position as i32,
            encrypted: false,
            recipients: Vec::new(),
            overwrites: Vec::new(),
            created_at: now,
            thread: None,
        })?;
    }
    store.put_member(&Member {
        guild_id: guild.id,
        user_id: owner,
        roles: Vec::new(),
        nick: None,
        joined_at: now,
        timeout_until: None,
    })?;
    Ok(guild)
}

/// `POST /api/guilds`: a guild with `general` and `lounge`, owned by the
/// caller; their online sessions receive it as GuildCreate.
pub async fn create_guild(
    world: &Arc<World>,
    caller: &Caller,
    command: Command,
) -> GatewayResult<Reply> {
    let Command::CreateGuild { name, description } = command else {
        return Err(GatewayError::internal("not a guild creation"));
    };
    let guild = write_guild(
        world,
        caller.id(),
        &name,
        &description,
        &["general".to_string()],
        &["lounge".to_string()],
    )?;
    world.store.commit().await?;
    world.start_guild(guild.id)?;
    let sessions = world
        .hub()
        .send(SessionsOf(caller.id()))
        .await
        .unwrap_or_default();
    let addr = world.guild_addr(guild.id)?;
    let view = addr
        .send(Join {
            user: caller.user.clone(),
            sessions,
        })
        .await
        .map_err(|_| GatewayError::internal("guild actor stopped"))??;
    Ok(Reply::Guild(view))
}

/// Adds `user` to a guild (invite codes, the default guild).
pub async fn join_guild(world: &Arc<World>, user: Arc<User>, guild_id: Id) -> GatewayResult<Reply> {
    let addr = world.guild_addr(guild_id)?;
    let sessions = world
        .hub()
        .send(SessionsOf(user.id))
        .await
        .unwrap_or_default();
    let view = addr
        .send(Join { user, sessions })
        .await
        .map_err(|_| GatewayError::internal("guild actor stopped"))??;
    Ok(Reply::Guild(view))
}

/// On first start, creates the configured default guild, owned by a
/// system user that cannot log in.
pub fn ensure_default_guild(world: &Arc<World>) -> GatewayResult<()> {
    if let Some(bytes) = world.store.meta_get(DEFAULT_GUILD_KEY)? {
        if let Some(id) = Id::from_be_slice(&bytes) {
            if world.guild_addr(id).is_ok() {
                world.set_default_guild(id);
                return Ok(());
            }
        }
    }
    let Some(cfg) = world.config.default_guild.clone() else {
        return Ok(());
    };
    let system = system_user(world)?;
    let guild = write_guild(
        world,
        system,
        &cfg.name,
        "Everyone starts here.",
        &cfg.text_channels,
        &cfg.voice_channels,
    )?;
    world
        .store
        .meta_put(DEFAULT_GUILD_KEY, &guild.id.to_be_bytes())?;
    world.store.flush_blocking()?;
    world.start_guild(guild.id)?;
    world.set_default_guild(guild.id);
    Ok(())
}

fn system_user(world: &World) -> GatewayResult<Id> {
    if let Some(bytes) = world.store.meta_get(SYSTEM_USER_KEY)? {
        if let Some(id) = Id::from_be_slice(&bytes) {
            return Ok(id);
        }
    }
    let user = User {
        id: world.ids.next(),
        username: "switchboard".into(),
        display_name: world.config.server_name.clone(),
        avatar: None,
        domain: None,
        public_key: None,
        bot: true,
        created_at: now_ms(),
    };
    world.store.create_user(&user, None)?;
    world
        .store
        .meta_put(SYSTEM_USER_KEY, &user.id.to_be_bytes())?;
    Ok(user.id)
}
