//! Accounts, password hashes and session tokens.
//!
//! Password hashes live in their own tree, never inside `User`, so no code
//! path that hands a profile to a client can leak one.

use std::ops::Bound;

use serde::{Deserialize, Serialize};
use sled::transaction::Transactional;
use switchboard_protocols::model::User;
use switchboard_protocols::Id;

use super::{abort, decode, decode_opt, encode, id_at, tx, values, Counters, Store, StoreError};

/// What a token hash maps to. The token itself is never stored, only its
/// SHA-256, so a copied database cannot be used to log in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub user_id: Id,
    pub created_at: i64,
}

/// One account namespace serves every dialect, and no dialect lets `Ann`
/// and `ann` be two people, so the index is keyed by the lowercased name.
fn name_key(username: &str) -> Vec<u8> {
    username.to_lowercase().into_bytes()
}

fn taken() -> StoreError {
    StoreError::Conflict("username taken".into())
}

impl Store {
    /// Claims the username and writes the profile (and hash) in one
    /// transaction, so neither a race nor a crash can leave a name held by
    /// no account or two accounts sharing one.
    pub fn create_user(&self, user: &User, password_hash: Option<&str>) -> Result<(), StoreError> {
        let t = &self.t();
        let nk = name_key(&user.username);
        let id = user.id.to_be_bytes();
        let value = encode(user)?;
        let trees = (&t.users_by_name, &t.users, &t.passwords);
        tx(trees.transaction(|(names, users, pw)| {
            if names.get(&nk)?.is_some() {
                return abort(Err(taken()));
            }
            if users.get(id)?.is_some() {
                return abort(Err(StoreError::Conflict("user id taken".into())));
            }
            names.insert(nk.as_slice(), &id[..])?;
            users.insert(&id[..], value.as_slice())?;
            if let Some(h) = password_hash {
                pw.insert(&id[..], h.as_bytes())?;
            }
            Ok(())
        }))?;
        Counters::inc(&self.inner.counts.users);
        Ok(())
    }

    pub fn user(&self, id: Id) -> Result<Option<User>, StoreError> {
        decode_opt(self.t().users.get(id.to_be_bytes())?)
    }

    pub fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        match self.t().users_by_name.get(name_key(username))? {
            Some(id) => self.user(id_at(&id, 0)?),
            None => Ok(None),
        }
    }

    /// Replaces a profile. A changed username is re-indexed atomically
    /// (Conflict when another account holds it); an unknown id is created,
    /// so the name index and the user count never drift from the rows.
    pub fn update_user(&self, user: &User) -> Result<(), StoreError> {
        let t = &self.t();
        let nk = name_key(&user.username);
        let id = user.id.to_be_bytes();
        let value = encode(user)?;
        let trees = (&t.users_by_name, &t.users);
        let created = tx(trees.transaction(|(names, users)| {
            let old = match users.get(id)? {
                Some(bytes) => Some(abort(decode::<User>(&bytes))?),
                None => None,
            };
            let old_key = old.as_ref().map(|u| name_key(&u.username));
            if old_key.as_deref() != Some(nk.as_slice()) {
                match names.get(&nk)? {
                    Some(holder) if holder.as_ref() != id.as_slice() => return abort(Err(taken())),
                    _ => {}
                }
                if let Some(ok) = &old_key {
                    names.remove(ok.as_slice())?;
                }
                names.insert(nk.as_slice(), &id[..])?;
            }
            users.insert(&id[..], value.as_slice())?;
            Ok(old.is_none())
        }))?;
        if created {
            Counters::inc(&self.inner.counts.users);
        }
        Ok(())
    }

    pub fn password_hash(&self, id: Id) -> Result<Option<String>, StoreError> {
        match self.t().passwords.get(id.to_be_bytes())? {
            Some(v) => String::from_utf8(v.to_vec())
                .map(Some)
                .map_err(|_| StoreError::Decode("password hash is not UTF-8".into())),
            None => Ok(None),
        }
    }

    pub fn set_password_hash(&self, id: Id, phc: &str) -> Result<(), StoreError> {
        self.inner
            .t
            .passwords
            .insert(id.to_be_bytes(), phc.as_bytes())?;
        Ok(())
    }

    /// A page of users in id (creation) order, for admin listings.
    pub fn list_users(&self, after: Option<Id>, limit: usize) -> Result<Vec<User>, StoreError> {
        let lo = match after {
            Some(a) => Bound::Excluded(a.to_be_bytes()),
            None => Bound::Unbounded,
        };
        let iter = self
            .inner
            .t
            .users
            .range::<[u8; 8], _>((lo, Bound::Unbounded));
        values(iter.take(limit))
    }

    pub fn put_token(
        &self,
        hash: &[u8; 32],
        user_id: Id,
        created_at: i64,
    ) -> Result<(), StoreError> {
        let rec = encode(&TokenRecord {
            user_id,
            created_at,
        })?;
        self.t().tokens.insert(hash, rec)?;
        Ok(())
    }

    pub fn token_user(&self, hash: &[u8; 32]) -> Result<Option<Id>, StoreError> {
        Ok(self.token_record(hash)?.map(|r| r.user_id))
    }

    /// The whole record, for callers that expire tokens by age.
    pub fn token_record(&self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        decode_opt(self.t().tokens.get(hash)?)
    }

    pub fn delete_token(&self, hash: &[u8; 32]) -> Result<(), StoreError> {
        self.t().tokens.remove(hash)?;
        Ok(())
    }

    /// Bans or unbans an account server-wide (not a guild ban): a banned
    /// account cannot log in or use its tokens in any dialect. Banning also
    /// logs it out everywhere. Returns whether anything changed.
    pub fn set_account_banned(&self, user_id: Id, banned: bool) -> Result<bool, StoreError> {
        let key = user_id.to_be_bytes();
        let changed = if banned {
            let now = switchboard_protocols::time::now_ms();
            let old = self.t().account_bans.insert(key, &now.to_be_bytes()[..])?;
            self.delete_tokens_of(user_id)?;
            old.is_none()
        } else {
            self.t().account_bans.remove(key)?.is_some()
        };
        Ok(changed)
    }

    pub fn is_account_banned(&self, user_id: Id) -> Result<bool, StoreError> {
        Ok(self.t().account_bans.contains_key(user_id.to_be_bytes())?)
    }

    /// Logs a user out everywhere. A full scan: it runs on password changes
    /// and bans, rarely enough that a per-user index is not worth its writes.
    pub fn delete_tokens_of(&self, user_id: Id) -> Result<usize, StoreError> {
        let mut doomed = Vec::new();
        for kv in self.t().tokens.iter() {
            let (k, v) = kv?;
            if decode::<TokenRecord>(&v)?.user_id == user_id {
                doomed.push(k);
            }
        }
        for k in &doomed {
            self.t().tokens.remove(k)?;
        }
        Ok(doomed.len())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::Durability;
    use super::*;

    #[test]
    fn user_round_trip_and_case_insensitive_lookup() {
        let (_d, s) = open_tmp();
        let u = user(1, "Alice");
        s.create_user(&u, Some("$argon2id$v=19$x")).unwrap();
        assert_eq!(s.user(Id(1)).unwrap(), Some(u.clone()));
        assert_eq!(s.user_by_name("aLiCe").unwrap(), Some(u));
        assert_eq!(s.user_by_name("bob").unwrap(), None);
        assert_eq!(
            s.password_hash(Id(1)).unwrap().as_deref(),
            Some("$argon2id$v=19$x")
        );
        s.set_password_hash(Id(1), "new").unwrap();
        assert_eq!(s.password_hash(Id(1)).unwrap().as_deref(), Some("new"));
        assert_eq!(s.password_hash(Id(2)).unwrap(), None);
        assert_eq!(s.user_count(), 1);
    }

    #[test]
    fn username_conflict_ignores_case() {
        let (_d, s) = open_tmp();
        s.create_user(&user(1, "Alice"), None).unwrap();
        let e = s.create_user(&user(2, "ALICE"), None).unwrap_err();
        assert!(matches!(e, StoreError::Conflict(ref m) if m == "username taken"));
        let e = s.create_user(&user(1, "other"), None).unwrap_err();
        assert!(matches!(e, StoreError::Conflict(_)));
        assert_eq!(s.user_count(), 1);
        assert_eq!(s.user(Id(2)).unwrap(), None);
        assert_eq!(s.user_by_name("other").unwrap(), None);
    }

    #[test]
    fn concurrent_creates_of_one_name_admit_exactly_one() {
        let (_d, s) = open_tmp();
        let handles: Vec<_> = (0..8u64)
            .map(|i| {
                let s = s.clone();
                std::thread::spawn(move || s.create_user(&user(i + 1, "Same"), None).is_ok())
            })
            .collect();
        let wins = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|won| *won)
            .count();
        assert_eq!(wins, 1);
        assert_eq!(s.user_count(), 1);
    }

    #[test]
    fn update_user_keeps_and_moves_the_name_index() {
        let (_d, s) = open_tmp();
        s.create_user(&user(1, "alice"), None).unwrap();
        s.create_user(&user(2, "bob"), None).unwrap();
        let mut u = user(1, "Alice");
        u.display_name = "Queen".into();
        s.update_user(&u).unwrap();
        assert_eq!(s.user_by_name("alice").unwrap(), Some(u.clone()));
        let e = s.update_user(&user(1, "BOB")).unwrap_err();
        assert!(matches!(e, StoreError::Conflict(_)));
        s.update_user(&user(1, "carol")).unwrap();
        assert_eq!(s.user_by_name("alice").unwrap(), None);
        assert_eq!(s.user_by_name("Carol").unwrap().unwrap().id, Id(1));
        s.create_user(&user(3, "alice"), None).unwrap();
        assert_eq!(s.user_count(), 3);
        s.update_user(&user(4, "dave")).unwrap();
        assert_eq!(s.user_count(), 4);
    }

    #[test]
    fn list_users_pages_by_id() {
        let (_d, s) = open_tmp();
        for i in 1..=5 {
            s.create_user(&user(i, &format!("u{i}")), None).unwrap();
        }
        let ids = |v: Vec<User>| v.into_iter().map(|u| u.id.0).collect::<Vec<_>>();
        assert_eq!(ids(s.list_users(None, 2).unwrap()), vec![1, 2]);
        assert_eq!(ids(s.list_users(Some(Id(2)), 2).unwrap()), vec![3, 4]);
        assert_eq!(ids(s.list_users(Some(Id(4)), 10).unwrap()), vec![5]);
        assert!(s.list_users(Some(Id(5)), 10).unwrap().is_empty());
    }

    #[test]
    fn tokens_round_trip_and_revoke_per_user() {
        let (_d, s) = open_tmp();
        let (a, b, c) = ([1u8; 32], [2u8; 32], [3u8; 32]);
        s.put_token(&a, Id(1), 10).unwrap();
        s.put_token(&b, Id(1), 11).unwrap();
        s.put_token(&c, Id(2), 12).unwrap();
        assert_eq!(s.token_user(&a).unwrap(), Some(Id(1)));
        assert_eq!(
            s.token_record(&c).unwrap(),
            Some(TokenRecord {
                user_id: Id(2),
                created_at: 12
            })
        );
        s.delete_token(&a).unwrap();
        assert_eq!(s.token_user(&a).unwrap(), None);
        assert_eq!(s.delete_tokens_of(Id(1)).unwrap(), 1);
        assert_eq!(s.token_user(&b).unwrap(), None);
        assert_eq!(s.token_user(&c).unwrap(), Some(Id(2)));
    }

    #[test]
    fn reopen_keeps_users() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(&cfg(dir.path(), Durability::Strict)).unwrap();
            s.create_user(&user(7, "Zed"), Some("h")).unwrap();
        }
        let s = reopen(dir.path(), Durability::Strict);
        assert_eq!(s.user_by_name("zed").unwrap().unwrap().id, Id(7));
        assert_eq!(s.password_hash(Id(7)).unwrap().as_deref(), Some("h"));
        assert_eq!(s.user_count(), 1);
    }
}
