//! Federation with other Switchboard servers (JAM profile §4). So far: the
//! server's Ed25519 identity.

pub mod keys;
