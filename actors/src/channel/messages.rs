//! The channel actor's commands on messages: validation, persistence and
//! the events they produce.

use std::time::Instant;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use switchboard_protocols::command::{Command, NewMessage};
use switchboard_protocols::event::{Event, FullMessage, ReactionEvent};
use switchboard_protocols::model::{Attachment, ChannelKind, Message};
use switchboard_protocols::permissions as perm;
use switchboard_protocols::time::now_ms;
use switchboard_protocols::{GatewayError, GatewayResult, Id, Refusal};

use super::{ChannelActor, Outcome};

/// Most files one message may carry.
const MAX_ATTACHMENTS: usize = 10;
use crate::world::{Caller, Reply};

impl ChannelActor {
    fn validate_content(
        &self,
        content: &str,
        encrypted: bool,
        nonce: Option<&str>,
        min_ciphertext: usize,
    ) -> GatewayResult<()> {
        if content.chars().count() > self.world.config.message_length {
            return Err(GatewayError::too_large(format!(
                "Message content is longer than {} characters",
                self.world.config.message_length
            )));
        }
        if self.channel.encrypted && !encrypted {
            return Err(GatewayError::refused(
                Refusal::EncryptedChannel,
                "This channel accepts only encrypted messages",
            ));
        }
        if encrypted {
            let nonce_ok = nonce
                .and_then(|n| B64.decode(n).ok())
                .is_some_and(|n| n.len() == 24);
            if !nonce_ok {
                return Err(GatewayError::invalid("`nonce` must be base64 of 24 bytes"));
            }
            let ct_ok = B64
                .decode(content)
                .map(|c| c.len() >= min_ciphertext)
                .unwrap_or(false);
            if !ct_ok {
                return Err(GatewayError::invalid(format!(
                    "Encrypted content must be base64 of at least {min_ciphertext} bytes"
                )));
            }
        }
        Ok(())
    }

    /// Stores a new message; `false` when `client_ref` names one already
    /// stored (a retried send), which is returned instead.
    fn send_message(
        &mut self,
        caller: &Caller,
        m: NewMessage,
    ) -> GatewayResult<(FullMessage, bool)> {
        let me = caller.id();
        let mut need = perm::SEND_MESSAGES;
        if !m.attachments.is_empty() {
            need |= perm::ATTACH_FILES;
        }
        self.require(me, need)?;
        self.not_timed_out(me)?;
        if self.channel.kind == ChannelKind::Forum {
            return Err(GatewayError::invalid(
                "Cannot send messages in a forum channel; post in one of its threads",
            ));
        }
        if self.channel.thread.as_ref().is_some_and(|t| t.locked) {
            return Err(GatewayError::refused(
                Refusal::ThreadLocked,
                "This thread is locked",
            ));
        }
        if let Some(r) = &m.client_ref {
            if let Some(existing) =
                self.world
                    .store
                    .message_by_client_ref(self.channel.id, me, r)?
            {
                return Ok((self.world.full_message(existing)?, false));
            }
        }
        if m.content.trim().is_empty() && m.attachments.is_empty() {
            return Err(GatewayError::invalid("Message content must not be empty"));
        }
        let min_ciphertext = if m.untagged { 1 } else { 16 };
        self.validate_content(&m.content, m.encrypted, m.nonce.as_deref(), min_ciphertext)?;
        let attachments = self.attachments(me, &m.attachments)?;
        if let Some(reply_to) = m.reply_to {
            self.message(reply_to)?;
        }
        let message = Message {
            id: self.world.ids.next(),
            channel_id: self.channel.id,
            guild_id: self.channel.guild_id,
            author_id: me,
            content: m.content,
            encrypted: m.encrypted,
            nonce: if m.encrypted { m.nonce } else { None },
            attachments,
            reply_to: m.reply_to,
            reactions: Vec::new(),
            pinned: false,
            created_at: now_ms(),
            edited_at: None,
            binary: m.binary,
            client_ref: m.client_ref,
        };
        self.world.store.put_message(&message)?;
        for a in &message.attachments {
            self.world
                .store
                .add_file_ref(a.id, self.channel.id, message.id)?;
        }
        self.world.metrics.message_created(self.channel.id);
        // The profile as it is now: the caller's copy dates from its login,
        // and a profile edit since (in any dialect) must show.
        let author = match self.world.user(me) {
            Ok(u) => (*u).clone(),
            Err(_) => (*caller.user).clone(),
        };
        Ok((FullMessage { message, author }, true))
    }

    /// Files a message may carry: they exist and the sender uploaded them.
    fn attachments(&self, me: Id, ids: &[Id]) -> GatewayResult<Vec<Attachment>> {
        if ids.len() > MAX_ATTACHMENTS {
            return Err(GatewayError::invalid(format!(
                "A message carries at most {MAX_ATTACHMENTS} attachments"
            )));
        }
        let mut out: Vec<Attachment> = Vec::with_capacity(ids.len());
        for id in ids {
            let file =
                self.world.store.file(*id)?.ok_or_else(|| {
                    GatewayError::refused(Refusal::AttachmentMissing, "Unknown file")
                })?;
            if file.uploader_id != me {
                return Err(GatewayError::refused(
                    Refusal::NotUploader,
                    "Only the uploader can attach a file",
                ));
            }
            if !out.iter().any(|a| a.id == file.id) {
                out.push(file.attachment());
            }
        }
        Ok(out)
    }

    pub(super) fn apply(
        &mut self,
        caller: Caller,
        command: Command,
        started: Instant,
    ) -> GatewayResult<Outcome> {
        let me = caller.id();
        Ok(match command {
            Command::SendMessage(m) => {
                let (full, created) = self.send_message(&caller, m)?;
                if !created {
                    // A retried send: answer with what is stored, tell no one again.
                    return Ok(Outcome::Now(Reply::Message(full)));
                }
                let env = caller.envelope(Event::MessageCreate(full.clone()));
                Outcome::Durable(Some(env), Reply::Message(full))
            }
            Command::EditMessage {
                message_id,
                content,
                encrypted,
                nonce,
                ..
            } => {
                self.require(me, 0)?;
                self.not_timed_out(me)?;
                let mut message = self.message(message_id)?;
                if message.author_id != me {
                    return Err(GatewayError::forbidden(
                        "Only the author can edit a message",
                    ));
                }
                if content.trim().is_empty() && message.attachments.is_empty() {
                    return Err(GatewayError::invalid("Message content must not be empty"));
                }
                self.validate_content(&content, encrypted, nonce.as_deref(), 16)?;
                message.content = content;
                message.encrypted = encrypted;
                message.nonce = if encrypted { nonce } else { None };
                message.edited_at = Some(now_ms());
                self.world.store.put_message(&message)?;
                let full = self.world.full_message(message)?;
                let env = caller.envelope(Event::MessageUpdate(full.clone()));
                Outcome::Durable(Some(env), Reply::Message(full))
            }
            Command::DeleteMessage { message_id, .. } => {
                let message = self.message(message_id)?;
                if message.author_id != me {
                    self.require(me, perm::MANAGE_MESSAGES)?;
                } else {
                    self.require(me, 0)?;
                }
                self.world
                    .store
                    .delete_message(self.channel.id, message_id)?;
                for a in &message.attachments {
                    self.world
                        .store
                        .remove_file_ref(a.id, self.channel.id, message_id)?;
                }
                let env = caller.envelope(Event::MessageDelete {
                    id: message_id,
                    channel_id: self.channel.id,
                    guild_id: self.channel.guild_id,
                });
                Outcome::Durable(Some(env), Reply::Done)
            }
            Command::React {
                message_id,
                emoji,
                add,
                ..
            } => {
                self.require(me, if add { perm::ADD_REACTIONS } else { 0 })?;
                self.not_timed_out(me)?;
                let mut message = self.message(message_id)?;
                let changed = if add {
                    message.add_reaction(&emoji, me)
                } else {
                    message.remove_reaction(&emoji, me)
                };
                if !changed {
                    return Ok(Outcome::Now(Reply::Unchanged));
                }
                self.world.store.put_message(&message)?;
                let env = caller.envelope(Event::Reaction(ReactionEvent {
                    message_id,
                    channel_id: self.channel.id,
                    guild_id: self.channel.guild_id,
                    user_id: me,
                    count: message.reaction_count(&emoji),
                    emoji,
                    added: add,
                }));
                Outcome::Durable(Some(env), Reply::Done)
            }
            Command::Pin {
                message_id, pinned, ..
            } => {
                self.require(me, perm::MANAGE_MESSAGES)?;
                let mut message = self.message(message_id)?;
                message.pinned = pinned;
                self.world.store.put_message(&message)?;
                self.world
                    .store
                    .set_pin(self.channel.id, message_id, pinned)?;
                let full = self.world.full_message(message)?;
                let env = caller.envelope(Event::MessagePin(full.clone()));
                Outcome::Durable(Some(env), Reply::Message(full))
            }
            Command::Typing { .. } => {
                self.require(me, perm::SEND_MESSAGES)?;
                self.not_timed_out(me)?;
                let env = caller.envelope(Event::Typing {
                    channel_id: self.channel.id,
                    guild_id: self.channel.guild_id,
                    user_id: me,
                    timestamp: now_ms(),
                });
                self.publish(&env, Some(me), started);
                let peers =
                    crate::federation::outbound::enqueue(&self.world, &self.channel, &env.event);
                self.wake_peers(&peers);
                return Ok(Outcome::Now(Reply::Done));
            }
            Command::MergeMessage {
                author_id,
                content,
                binary,
                client_ref,
                created_at,
                ..
            } => {
                self.require(me, perm::SEND_MESSAGES)?;
                let member = self.guild.as_ref().is_some_and(|g| g.is_member(author_id));
                if !member {
                    return Err(GatewayError::not_found("Unknown author"));
                }
                let store = &self.world.store;
                if let Some(existing) =
                    store.message_by_client_ref(self.channel.id, author_id, &client_ref)?
                {
                    return Ok(Outcome::Now(Reply::Message(
                        self.world.full_message(existing)?,
                    )));
                }
                self.validate_content(&content, false, None, 0)?;
                let created_at = merge_date(created_at, self.channel.id, author_id)?;
                let message = Message {
                    id: self.world.ids.next(),
                    channel_id: self.channel.id,
                    guild_id: self.channel.guild_id,
                    author_id,
                    content,
                    encrypted: false,
                    nonce: None,
                    attachments: Vec::new(),
                    reply_to: None,
                    reactions: Vec::new(),
                    pinned: false,
                    created_at,
                    edited_at: None,
                    binary,
                    client_ref: Some(client_ref),
                };
                store.put_message(&message)?;
                let full = self.world.full_message(message)?;
                let env = caller.envelope(Event::MessageCreate(full.clone()));
                Outcome::Durable(Some(env), Reply::Message(full))
            }
            Command::SearchMessages { query, limit, .. } => {
                return Ok(Outcome::Now(Reply::Messages(
                    self.search(me, &query, limit)?,
                )));
            }
            Command::Replies {
                message_id, limit, ..
            } => {
                return Ok(Outcome::Now(Reply::Messages(
                    self.replies(me, message_id, limit)?,
                )));
            }
            Command::PinnedMessages { .. } => {
                return Ok(Outcome::Now(Reply::Messages(self.pinned(me)?)));
            }
            Command::History { query, .. } => {
                return Ok(Outcome::Now(Reply::Messages(self.history(me, query)?)));
            }
            Command::GetMessage { message_id, .. } => {
                self.require(me, perm::READ_MESSAGE_HISTORY)?;
                let m = self.message(message_id)?;
                return Ok(Outcome::Now(Reply::Message(self.world.full_message(m)?)));
            }
            Command::PutKeyEnvelopes { envelopes, .. } => {
                self.put_key_envelopes(me, envelopes)?;
                Outcome::Durable(None, Reply::Done)
            }
            Command::GetKeyEnvelope { .. } => {
                Outcome::Now(Reply::KeyEnvelope(self.key_envelope(me)?))
            }
            Command::GetChannel { .. } => {
                self.require(me, 0)?;
                return Ok(Outcome::Now(Reply::Channel(self.channel.clone())));
            }
            Command::UpdateChannel { .. } | Command::DeleteChannel { .. } => {
                self.require(me, 0)?;
                return Err(GatewayError::forbidden(
                    "Direct message channels cannot be changed",
                ));
            }
            Command::UpdateGroup {
                add, remove, name, ..
            } => return self.update_group(&caller, add, remove, name, started),
            other => {
                return Err(GatewayError::internal(format!(
                    "channel actor cannot handle {other:?}"
                )))
            }
        })
    }
}

/// How far ahead of the server's clock a merged message's date may be.
const MERGE_SKEW_MS: i64 = 60_000;

/// How old a merged message may be: merges bring back what was said while
/// the server was out of reach, not a rewritten past.
pub const MERGE_MAX_AGE_MS: i64 = 7 * 24 * 3600 * 1000;

/// The date a merged message is stored with, or why it is refused: never
/// ahead of the server's clock (a small skew is brought back to now),
/// never older than [`MERGE_MAX_AGE_MS`], never before its channel or its
/// author existed.
fn merge_date(created_at: i64, channel: Id, author: Id) -> GatewayResult<i64> {
    let now = now_ms();
    if created_at > now.saturating_add(MERGE_SKEW_MS) {
        return Err(GatewayError::invalid(
            "A merged message cannot be dated in the future",
        ));
    }
    let floor = now
        .saturating_sub(MERGE_MAX_AGE_MS)
        .max(channel.timestamp_ms())
        .max(author.timestamp_ms());
    // V0 dates are whole seconds.
    if created_at < floor - floor.rem_euclid(1000) {
        return Err(GatewayError::invalid(
            "A merged message cannot be dated before its channel, its author or the last 7 days",
        ));
    }
    Ok(created_at.min(now))
}
