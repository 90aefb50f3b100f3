//! History paging: one bounded range scan per page, whatever the channel's
//! length, because `channel ++ message` keys sort by time.

use std::ops::Bound;

use switchboard_protocols::model::Message;
use switchboard_protocols::Id;

use super::{key2, values, Store, StoreError};

impl Store {
    /// One page of history, always newest first.
    ///
    /// - neither bound: the newest `limit`;
    /// - `before`: the newest `limit` strictly older than it;
    /// - `after`: the oldest `limit` strictly newer than it (paging forward
    ///   from a read marker), still returned newest first;
    /// - both: like `after`, but never reaching `before`.
    pub fn history(
        &self,
        channel: Id,
        before: Option<Id>,
        after: Option<Id>,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        if let (Some(b), Some(a)) = (before, after) {
            if b.0 <= a.0.saturating_add(1) {
                return Ok(Vec::new());
            }
        }
        let lo = match after {
            Some(a) => Bound::Excluded(key2(channel, a)),
            None => Bound::Included(key2(channel, Id(0))),
        };
        let hi = match before {
            Some(b) => Bound::Excluded(key2(channel, b)),
            None => Bound::Included(key2(channel, Id(u64::MAX))),
        };
        let range = self.t().messages.range((lo, hi));
        if after.is_some() {
            let mut page: Vec<Message> = values(range.take(limit))?;
            page.reverse();
            Ok(page)
        } else {
            values(range.rev().take(limit))
        }
    }
}

/// How far a count of messages reads before it stops: counts are for
/// badges, and "10000+" is as good as exact there.
pub const COUNT_LIMIT: usize = 10_000;

/// Read states: `read_states` holds user ‖ channel → the last message id
/// the user has read there.
impl Store {
    /// Messages in `channel` newer than `after` (all when `None`), counted
    /// up to [`COUNT_LIMIT`].
    pub fn count_after(&self, channel: Id, after: Option<Id>) -> Result<usize, StoreError> {
        let lo = match after {
            Some(a) => Bound::Excluded(key2(channel, a)),
            None => Bound::Included(key2(channel, Id(0))),
        };
        let hi = Bound::Included(key2(channel, Id(u64::MAX)));
        let mut n = 0;
        for kv in self
            .inner
            .t
            .messages
            .range((lo, hi))
            .keys()
            .take(COUNT_LIMIT)
        {
            kv?;
            n += 1;
        }
        Ok(n)
    }

    pub fn set_last_read(&self, user: Id, channel: Id, message: Id) -> Result<(), StoreError> {
        self.inner
            .t
            .read_states
            .insert(key2(user, channel), &message.to_be_bytes()[..])?;
        Ok(())
    }

    pub fn last_read(&self, user: Id, channel: Id) -> Result<Option<Id>, StoreError> {
        Ok(self
            .inner
            .t
            .read_states
            .get(key2(user, channel))?
            .and_then(|v| Id::from_be_slice(&v)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    fn ids(page: Vec<Message>) -> Vec<u64> {
        page.into_iter().map(|m| m.id.0).collect()
    }

    /// Channel 20 holds ids 1..=10; neighbours 19 and 21 must never leak in.
    fn seeded() -> (tempfile::TempDir, Store) {
        let (d, s) = open_tmp();
        for i in 1..=10 {
            s.put_message(&message(20, i, 1)).unwrap();
        }
        s.put_message(&message(19, 50, 1)).unwrap();
        s.put_message(&message(21, 0, 1)).unwrap();
        (d, s)
    }

    #[test]
    fn history_pages_newest_first() {
        let (_d, s) = seeded();
        let h = |b: Option<u64>, a: Option<u64>, l| {
            ids(s.history(Id(20), b.map(Id), a.map(Id), l).unwrap())
        };
        assert_eq!(h(None, None, 3), vec![10, 9, 8]);
        assert_eq!(h(None, None, 100), (1..=10).rev().collect::<Vec<_>>());
        assert_eq!(h(Some(5), None, 3), vec![4, 3, 2]);
        assert_eq!(h(Some(2), None, 3), vec![1]);
        assert_eq!(h(Some(1), None, 3), Vec::<u64>::new());
        assert_eq!(h(None, Some(5), 3), vec![8, 7, 6]);
        assert_eq!(h(None, Some(8), 5), vec![10, 9]);
        assert_eq!(h(None, Some(10), 5), Vec::<u64>::new());
        assert_eq!(h(Some(9), Some(2), 10), vec![8, 7, 6, 5, 4, 3]);
        assert_eq!(h(Some(9), Some(2), 2), vec![4, 3]);
        assert_eq!(h(Some(3), Some(2), 5), Vec::<u64>::new());
        assert_eq!(h(Some(2), Some(9), 5), Vec::<u64>::new());
        assert_eq!(h(None, None, 0), Vec::<u64>::new());
        assert_eq!(
            ids(s.history(Id(22), None, None, 5).unwrap()),
            Vec::<u64>::new()
        );
    }

    #[test]
    fn history_handles_extreme_ids() {
        let (_d, s) = open_tmp();
        s.put_message(&message(20, 0, 1)).unwrap();
        s.put_message(&message(20, u64::MAX, 1)).unwrap();
        s.put_message(&message(21, 5, 1)).unwrap();
        let h = |b: Option<u64>, a: Option<u64>| {
            ids(s.history(Id(20), b.map(Id), a.map(Id), 10).unwrap())
        };
        assert_eq!(h(None, None), vec![u64::MAX, 0]);
        assert_eq!(h(None, Some(0)), vec![u64::MAX]);
        assert_eq!(h(Some(u64::MAX), None), vec![0]);
        assert_eq!(h(None, Some(u64::MAX)), Vec::<u64>::new());
    }
}
