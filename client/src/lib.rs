//! JAM client library.
