//! The federation body and its signature. The pure part (body, signature,
//! envelope and event checks) lives in `switchboard_protocols::federation`
//! so that it can be fuzzed without the actors; this module keeps the old
//! path for everything here.

pub use switchboard_protocols::federation::*;
