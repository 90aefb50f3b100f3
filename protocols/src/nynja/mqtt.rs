//! MQTT 3.1.1 packets, through the packet codec of `rumqttc` (its
//! `mqttbytes::v4`, maintained with the client): what Switchboard's MQTT
//! endpoint reads and writes. The server side adds only the limits.
//!
//! # Format
//! ```text
//! fixed header (type, flags, remaining length 1–4 bytes) | variable header | payload
//! CONNECT  clientId "reg_..." | "emqttd_<user id>", username "api", password <token>
//! PUBLISH  events/1//api/anon//  payload term_to_binary(Record)
//! ```

pub use rumqttc::mqttbytes::v4::{
    Codec, ConnAck, Connect, ConnectReturnCode, Packet, PubAck, PubComp, PubRec, PubRel, Publish,
    SubAck, SubscribeReasonCode, UnsubAck,
};
pub use rumqttc::mqttbytes::{Error as MqttError, QoS};

/// Default largest packet accepted.
pub const DEFAULT_MAX_PACKET: usize = 256 * 1024;

/// Longest fixed header: type byte and a 4-byte remaining length. The
/// packet limit counts the remaining length, so a whole packet may be this
/// much longer.
pub const MAX_FIXED_HEADER: usize = 5;

/// A codec that refuses inbound packets whose remaining length is over
/// `max_packet`. Outbound packets are not held to it: MQTT 3.1.1 gives a
/// client no way to announce a maximum, and what the server sends is
/// bounded by what it stores (message length, page sizes). Cutting them at
/// the inbound limit dropped them silently: a message of the allowed
/// length on a long `p2p/` topic, or a History page, never arrived.
pub fn codec(max_packet: usize) -> Codec {
    Codec {
        max_incoming_size: max_packet,
        max_outgoing_size: usize::MAX,
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use proptest::prelude::*;
    use tokio_util::codec::{Decoder, Encoder};

    use super::*;

    fn qos() -> impl Strategy<Value = QoS> {
        prop_oneof![
            Just(QoS::AtMostOnce),
            Just(QoS::AtLeastOnce),
            Just(QoS::ExactlyOnce)
        ]
    }

    proptest! {
        /// A PUBLISH written then read is the same PUBLISH, however the
        /// bytes arrive.
        #[test]
        fn publish_round_trips(topic in "[a-z/]{1,40}", payload in proptest::collection::vec(any::<u8>(), 0..300),
                               q in qos(), pkid in 1u16.., split in 1usize..50) {
            let mut p = Publish::new(topic, q, payload);
            if q != QoS::AtMostOnce {
                p.pkid = pkid;
            }
            let mut out = BytesMut::new();
            codec(DEFAULT_MAX_PACKET).encode(Packet::Publish(p.clone()), &mut out).unwrap();
            let bytes = out.to_vec();
            let mut c = codec(DEFAULT_MAX_PACKET);
            let mut buf = BytesMut::new();
            let mut got = None;
            for chunk in bytes.chunks(split) {
                buf.extend_from_slice(chunk);
                if let Some(packet) = c.decode(&mut buf).unwrap() {
                    got = Some(packet);
                }
            }
            prop_assert_eq!(got, Some(Packet::Publish(p)));
        }

        #[test]
        fn reading_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut buf = BytesMut::from(&bytes[..]);
            let _ = codec(1024).decode(&mut buf);
        }
    }

    #[test]
    fn a_remaining_length_over_the_limit_is_an_error() {
        // PUBLISH, remaining length 2000 (0xD0 0x0F).
        let mut buf = BytesMut::from(&[0x30u8, 0xD0, 0x0F][..]);
        assert!(codec(1024).decode(&mut buf).is_err());
    }

    #[test]
    fn the_inbound_limit_is_the_remaining_length_and_outbound_is_free() {
        let publish = |payload: usize| {
            let mut out = BytesMut::new();
            let p = Publish::new("t", QoS::AtMostOnce, vec![0u8; payload]);
            codec(1 << 20).encode(Packet::Publish(p), &mut out).unwrap();
            out
        };
        // Remaining length: 2 (topic length) + 1 (topic) + payload.
        let mut at = publish(1024 - 3);
        assert!(matches!(
            codec(1024).decode(&mut at),
            Ok(Some(Packet::Publish(_)))
        ));
        let mut past = publish(1024 - 2);
        assert!(codec(1024).decode(&mut past).is_err());
        let mut out = BytesMut::new();
        let big = Publish::new("t", QoS::AtMostOnce, vec![0u8; 4096]);
        assert!(codec(1024).encode(Packet::Publish(big), &mut out).is_ok());
    }
}
