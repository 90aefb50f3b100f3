//! `[federation]`: the peers this server talks to and the channels it
//! bridges with them (JAM profile §4).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Deserialize;

use super::{invalid, non_empty, ConfigError};

table! {
    /// `[federation]`: server-to-server delivery over signed HTTP.
    #[derive(Debug)]
    FederationConfig {
        /// Biggest body `POST /federation/receive` accepts, in bytes,
        /// 1024..=16777216; one over it is answered 413.
        max_body_bytes: usize = 1024 * 1024,
        /// `[[federation.peers]]`: the servers this one exchanges bodies
        /// with, configured by hand on both sides.
        peers: Vec<PeerConfig> = Vec::new(),
        /// `[[federation.bridges]]`: channels whose messages, edits,
        /// deletes, reactions and typing go to a peer's channel. Channel
        /// managers add more over REST (`/api/channels/<id>/bridges`).
        bridges: Vec<BridgeConfig> = Vec::new(),
    }
}

table! {
    /// One `[[federation.peers]]` entry.
    #[derive(Debug)]
    PeerConfig {
        /// The peer's `server.domain`; bodies from it carry it as `origin`.
        domain: String = String::new(),
        /// Base URL; bodies go to `<url>/federation/receive`.
        url: String = String::new(),
        /// The peer's `switchboard federation key`: base64 of 32 bytes.
        public_key: String = String::new(),
    }
}

table! {
    /// One `[[federation.bridges]]` entry.
    #[derive(Debug)]
    BridgeConfig {
        /// A local channel: its id, or the name of a text channel of the
        /// default guild.
        channel: String = String::new(),
        /// The `domain` of a configured peer.
        peer: String = String::new(),
        /// The id of the channel on the peer.
        remote_channel: String = String::new(),
    }
}

impl PeerConfig {
    /// The decoded public key (validated at load).
    pub fn key_bytes(&self) -> [u8; 32] {
        B64.decode(&self.public_key)
            .ok()
            .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
            .unwrap_or([0; 32])
    }
}

impl FederationConfig {
    pub(super) fn validate(&self, own_domain: &str) -> Result<(), ConfigError> {
        let max = self.max_body_bytes;
        if !(1024..=16 * 1024 * 1024).contains(&max) {
            let message = format!("{max} is outside 1024..=16777216");
            return Err(invalid("federation.max_body_bytes", message));
        }
        for (i, p) in self.peers.iter().enumerate() {
            let key = |k: &str| format!("federation.peers[{i}].{k}");
            non_empty(&key("domain"), &p.domain)?;
            if p.domain
                .contains(|c: char| c.is_whitespace() || c == '/' || c == '@')
            {
                let message = format!("not a domain: {:?}", p.domain);
                return Err(invalid(&key("domain"), message));
            }
            if p.domain.eq_ignore_ascii_case(own_domain) {
                return Err(invalid(&key("domain"), "is this server's own domain"));
            }
            if self.peers[..i]
                .iter()
                .any(|q| q.domain.eq_ignore_ascii_case(&p.domain))
            {
                let message = format!("{:?} appears twice", p.domain);
                return Err(invalid(&key("domain"), message));
            }
            if !(p.url.starts_with("http://") || p.url.starts_with("https://")) {
                let message = format!("must be an http:// or https:// URL, got {:?}", p.url);
                return Err(invalid(&key("url"), message));
            }
            let key_ok = B64.decode(&p.public_key).is_ok_and(|k| k.len() == 32);
            if !key_ok {
                return Err(invalid(
                    &key("public_key"),
                    "must be base64 of 32 bytes (the peer's `switchboard federation key`)",
                ));
            }
        }
        for (i, b) in self.bridges.iter().enumerate() {
            let key = |k: &str| format!("federation.bridges[{i}].{k}");
            non_empty(&key("channel"), &b.channel)?;
            let known = self
                .peers
                .iter()
                .any(|p| p.domain.eq_ignore_ascii_case(&b.peer));
            if !known {
                let message = format!("{:?} is not a configured peer", b.peer);
                return Err(invalid(&key("peer"), message));
            }
            if b.remote_channel.parse::<u64>().is_err() {
                let message = format!("must be a channel id (digits), got {:?}", b.remote_channel);
                return Err(invalid(&key("remote_channel"), message));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn load(extra: &str) -> Result<Config, String> {
        Config::from_toml_str(&format!("[server]\ndomain = \"a.test\"\n{extra}"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn peers_and_bridges_are_read() {
        let c = load(&format!(
            "[[federation.peers]]\ndomain = \"b.test\"\nurl = \"http://127.0.0.1:9\"\npublic_key = \"{KEY}\"\n\
             [[federation.bridges]]\nchannel = \"general\"\npeer = \"b.test\"\nremote_channel = \"42\"\n"
        ))
        .unwrap();
        assert_eq!(c.federation.peers[0].key_bytes()[31], 31);
        assert_eq!(c.federation.bridges[0].remote_channel, "42");
    }

    #[test]
    fn bad_entries_name_their_key() {
        let peer = |domain: &str, url: &str, key: &str| {
            format!(
                "[[federation.peers]]\ndomain = \"{domain}\"\nurl = \"{url}\"\npublic_key = \"{key}\"\n"
            )
        };
        let ok = peer("b.test", "http://b", KEY);
        let cases = [
            (peer("", "http://b", KEY), "federation.peers[0].domain"),
            (peer("a.test", "http://b", KEY), "federation.peers[0].domain"),
            (peer("b.test", "ftp://b", KEY), "federation.peers[0].url"),
            (peer("b.test", "http://b", "short"), "federation.peers[0].public_key"),
            (format!("{ok}{ok}"), "federation.peers[1].domain"),
            (
                format!("{ok}[[federation.bridges]]\nchannel = \"1\"\npeer = \"c.test\"\nremote_channel = \"2\"\n"),
                "federation.bridges[0].peer",
            ),
            (
                format!("{ok}[[federation.bridges]]\nchannel = \"1\"\npeer = \"b.test\"\nremote_channel = \"x\"\n"),
                "federation.bridges[0].remote_channel",
            ),
            ("[federation]\nmax_body_bytes = 10\n".into(), "federation.max_body_bytes"),
        ];
        for (toml, key) in cases {
            let e = load(&toml).expect_err(&toml);
            assert!(e.contains(&format!("`{key}`")), "{toml}: {e}");
        }
    }
}
