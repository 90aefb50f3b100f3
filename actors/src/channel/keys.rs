//! Key envelopes of an encrypted channel (JAM §3). The server checks their
//! shape and who they are for, and stores them opaque: it never holds a
//! channel key.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use switchboard_protocols::model::KeyEnvelope;
use switchboard_protocols::permissions as perm;
use switchboard_protocols::time::now_ms;
use switchboard_protocols::{GatewayError, GatewayResult, Id};

use super::ChannelActor;

/// Most envelopes one request may carry.
const MAX_ENVELOPES: usize = 1000;

fn decoded_len(field: &str, value: &str) -> GatewayResult<usize> {
    B64.decode(value)
        .map(|b| b.len())
        .map_err(|_| GatewayError::invalid(format!("`{field}` must be base64")))
}

impl ChannelActor {
    pub(super) fn put_key_envelopes(
        &mut self,
        me: Id,
        envelopes: Vec<KeyEnvelope>,
    ) -> GatewayResult<()> {
        self.require(me, perm::SEND_MESSAGES)?;
        if envelopes.is_empty() || envelopes.len() > MAX_ENVELOPES {
            return Err(GatewayError::invalid(format!(
                "Send 1 to {MAX_ENVELOPES} envelopes"
            )));
        }
        let now = now_ms();
        let mut out = Vec::with_capacity(envelopes.len());
        for e in envelopes {
            if decoded_len("ephemeral_public_key", &e.ephemeral_public_key)? != 32 {
                return Err(GatewayError::invalid(
                    "`ephemeral_public_key` must be base64 of 32 bytes",
                ));
            }
            if decoded_len("nonce", &e.nonce)? != 24 {
                return Err(GatewayError::invalid("`nonce` must be base64 of 24 bytes"));
            }
            if decoded_len("wrapped_key", &e.wrapped_key)? < 16 {
                return Err(GatewayError::invalid(
                    "`wrapped_key` must be base64 of at least 16 bytes",
                ));
            }
            if self.bits(e.user_id) & perm::VIEW_CHANNEL == 0 {
                return Err(GatewayError::invalid(format!(
                    "User {} is not a member of this channel",
                    e.user_id
                )));
            }
            out.push(KeyEnvelope {
                channel_id: self.channel.id,
                sender_id: me,
                created_at: now,
                ..e
            });
        }
        self.world.store.put_key_envelopes(&out)?;
        Ok(())
    }

    pub(super) fn key_envelope(&self, me: Id) -> GatewayResult<KeyEnvelope> {
        self.require(me, 0)?;
        self.world
            .store
            .key_envelope(self.channel.id, me)?
            .ok_or_else(|| GatewayError::not_found("No key envelope for you in this channel"))
    }
}
