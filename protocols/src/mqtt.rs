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

/// A codec with the same limit both ways.
pub fn codec(max_packet: usize) -> Codec {
    Codec {
        max_incoming_size: max_packet,
        max_outgoing_size: max_packet,
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
}
