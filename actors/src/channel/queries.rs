//! Read-only questions about a channel's messages: history pages, search,
//! replies, pins. Scans are bounded, so a huge channel costs a bounded
//! amount of work per request.

use switchboard_protocols::command::HistoryQuery;
use switchboard_protocols::event::FullMessage;
use switchboard_protocols::model::Message;
use switchboard_protocols::permissions as perm;
use switchboard_protocols::{GatewayResult, Id};

use super::{ChannelActor, MAX_PAGE};

/// How far back search and reply lookups read.
const SCAN_LIMIT: usize = 10_000;
/// Largest `skip` of a history page.
const MAX_SKIP: usize = 10_000;

impl ChannelActor {
    fn full(&self, messages: Vec<Message>) -> GatewayResult<Vec<FullMessage>> {
        messages
            .into_iter()
            .map(|m| self.world.full_message(m))
            .collect()
    }

    /// Newest first, as the store keeps them.
    pub(super) fn history(&self, me: Id, q: HistoryQuery) -> GatewayResult<Vec<FullMessage>> {
        self.require(me, perm::READ_MESSAGE_HISTORY)?;
        let limit = q.limit.clamp(1, MAX_PAGE);
        let store = &self.world.store;
        let channel = self.channel.id;
        let messages = match q.around {
            Some(around) => {
                let mut older = store.history(channel, Some(around), None, limit / 2)?;
                let mut newer = store.history(channel, None, Some(around), limit - limit / 2)?;
                if let Some(m) = store.message(channel, around)? {
                    newer.push(m);
                    if newer.len() + older.len() > limit {
                        newer.remove(0);
                    }
                }
                newer.append(&mut older);
                newer
            }
            None => {
                let skip = q.skip.min(MAX_SKIP);
                let mut page = store.history(channel, q.before, q.after, limit + skip)?;
                page.drain(..skip.min(page.len()));
                page
            }
        };
        self.full(messages)
    }

    /// Calls `keep` on messages newest first, up to [`SCAN_LIMIT`] of them,
    /// until it returns false.
    fn scan(&self, mut keep: impl FnMut(Message) -> bool) -> GatewayResult<()> {
        let mut before = None;
        let mut seen = 0;
        while seen < SCAN_LIMIT {
            let page = self
                .world
                .store
                .history(self.channel.id, before, None, 500)?;
            let Some(last) = page.last() else { break };
            before = Some(last.id);
            for m in page {
                seen += 1;
                if !keep(m) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Messages containing `query`, case-insensitively, newest first.
    /// Encrypted messages cannot be searched.
    pub(super) fn search(
        &self,
        me: Id,
        query: &str,
        limit: usize,
    ) -> GatewayResult<Vec<FullMessage>> {
        self.require(me, perm::READ_MESSAGE_HISTORY)?;
        let needle = query.to_lowercase();
        let limit = limit.clamp(1, MAX_PAGE);
        let mut found = Vec::new();
        self.scan(|m| {
            if !m.encrypted && m.content.to_lowercase().contains(&needle) {
                found.push(m);
            }
            found.len() < limit
        })?;
        self.full(found)
    }

    /// Replies to `message`, oldest first.
    pub(super) fn replies(
        &self,
        me: Id,
        message: Id,
        limit: usize,
    ) -> GatewayResult<Vec<FullMessage>> {
        self.require(me, perm::READ_MESSAGE_HISTORY)?;
        let mut found = Vec::new();
        self.scan(|m| {
            // Replies are newer than what they answer.
            let older_than_target = m.id <= message;
            if m.reply_to == Some(message) {
                found.push(m);
            }
            !older_than_target
        })?;
        found.reverse();
        found.truncate(limit.clamp(1, MAX_PAGE));
        self.full(found)
    }

    /// Pinned messages, newest first.
    pub(super) fn pinned(&self, me: Id) -> GatewayResult<Vec<FullMessage>> {
        self.require(me, perm::READ_MESSAGE_HISTORY)?;
        let store = &self.world.store;
        let mut ids = store.pins_of(self.channel.id)?;
        ids.sort_unstable_by(|a, b| b.cmp(a));
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(m) = store.message(self.channel.id, id)? {
                out.push(m);
            }
        }
        self.full(out)
    }
}
