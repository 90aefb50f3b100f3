//! Value and key encoding shared by the entity files, and the glue that
//! lets a [`StoreError`] abort a sled transaction.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use switchboard_protocols::Id;

use super::{StoreError, SCHEMA_VERSION};

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(128);
    out.push(SCHEMA_VERSION);
    rmp_serde::encode::write_named(&mut out, value)
        .map_err(|e| StoreError::Encode(e.to_string()))?;
    Ok(out)
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&SCHEMA_VERSION, body)) => {
            rmp_serde::from_slice(body).map_err(|e| StoreError::Decode(e.to_string()))
        }
        Some((&v, _)) if v > SCHEMA_VERSION => Err(StoreError::UnknownSchema(v)),
        Some((&v, _)) => Err(StoreError::Decode(format!("bad version byte {v}"))),
        None => Err(StoreError::Decode("empty value".into())),
    }
}

pub(crate) fn decode_opt<T: DeserializeOwned>(
    bytes: Option<sled::IVec>,
) -> Result<Option<T>, StoreError> {
    bytes.map(|b| decode(&b)).transpose()
}

/// `a ++ b`, the shape of every two-id key.
pub(crate) fn key2(a: Id, b: Id) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&a.to_be_bytes());
    k[8..].copy_from_slice(&b.to_be_bytes());
    k
}

/// Reads the id at `offset`; a short key or value is corruption, not a panic.
pub(crate) fn id_at(bytes: &[u8], offset: usize) -> Result<Id, StoreError> {
    bytes
        .get(offset..)
        .and_then(Id::from_be_slice)
        .ok_or_else(|| StoreError::Decode(format!("short id at {offset}")))
}

/// Ids stored in the second half of `prefix ++ id` index keys.
pub(crate) fn suffix_ids<I: Iterator<Item = KvResult>>(
    iter: I,
    offset: usize,
) -> Result<Vec<Id>, StoreError> {
    iter.map(|kv| id_at(&kv?.0, offset)).collect()
}

/// Decodes the values of a scan, in scan order.
pub(crate) fn values<T, I>(iter: I) -> Result<Vec<T>, StoreError>
where
    T: DeserializeOwned,
    I: Iterator<Item = KvResult>,
{
    iter.map(|kv| decode(&kv?.1)).collect()
}

pub(crate) type KvResult = sled::Result<(sled::IVec, sled::IVec)>;

/// Transaction-closure results: a [`StoreError`] raised inside aborts.
pub(crate) type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

pub(crate) fn abort<T>(r: Result<T, StoreError>) -> TxResult<T> {
    r.map_err(ConflictableTransactionError::Abort)
}

pub(crate) fn tx<T>(r: Result<T, TransactionError<StoreError>>) -> Result<T, StoreError> {
    r.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Sled(e),
    })
}

/// Removes every key under `prefix`, in chunks so a huge channel never
/// holds one giant vector, and so removals never race an open iterator.
pub(crate) fn remove_prefix(tree: &sled::Tree, prefix: &[u8]) -> Result<(), StoreError> {
    loop {
        let keys = tree
            .scan_prefix(prefix)
            .keys()
            .take(1024)
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Ok(());
        }
        for k in keys {
            tree.remove(k)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use switchboard_protocols::model::User;

    #[test]
    fn values_carry_a_version_byte_and_reject_newer_ones() {
        let u = user(1, "Ann");
        let bytes = encode(&u).unwrap();
        assert_eq!(bytes[0], SCHEMA_VERSION);
        assert_eq!(decode::<User>(&bytes).unwrap(), u);
        let mut newer = bytes.clone();
        newer[0] = SCHEMA_VERSION + 1;
        assert!(matches!(
            decode::<User>(&newer),
            Err(StoreError::UnknownSchema(2))
        ));
        assert!(matches!(decode::<User>(&[]), Err(StoreError::Decode(_))));
    }

    #[test]
    fn keys_sort_by_first_id_then_second() {
        assert!(key2(Id(1), Id(u64::MAX)) < key2(Id(2), Id(0)));
        assert!(key2(Id(1), Id(255)) < key2(Id(1), Id(256)));
        assert_eq!(id_at(&key2(Id(7), Id(9)), 8).unwrap(), Id(9));
        assert!(matches!(id_at(&[1, 2, 3], 0), Err(StoreError::Decode(_))));
    }
}
