//! CHAT (SYNRC/NYNJA) limits over MQTT, each exactly at the limit
//! (accepted) and one past it. A remaining length over `nynja.max_packet`
//! closes the connection; a term nested past the decoder's depth and text
//! over `limits.message_length` get `{io,{error,invalid_data},<<>>}` and the
//! connection stays. Nothing refused is stored or relayed, and the other
//! client keeps being served.
//!
//! The element-count limit of the term decoder is held exactly in
//! `switchboard-protocols` (`etf::tests::depth_and_element_limits_hold_exactly`):
//! a term with 100 000 elements needs a packet bigger than the test
//! client's.

mod common;

use common::{nynja_login, nynja_login_via, Jam, Ny, TestServer, NYNJA_FIXED};
use switchboard_protocols::nynja::etf::{self, Limits, Term};
use switchboard_protocols::nynja::{self, io_error, MessageView};

/// The topic the test client publishes on (`Ny::send_raw`).
const EVENTS: &str = "events/1//api/anon//";

fn phone_roster(ny: &Ny, phone: &str) -> String {
    format!("{phone}_{}", ny.client_id.trim_start_matches("emqttd_"))
}

fn typing(to: &str, comments: Term) -> Term {
    Term::record("Typing", [Term::bin(to), comments])
}

/// A Profile get: its answer proves the connection is still served and
/// that nothing else came before it.
async fn profile_round_trip(ny: &mut Ny, phone: &str) {
    ny.send(&common::profile_get(phone)).await;
    ny.recv_record("Profile").await;
}

/// QoS 2 PUBLISH: remaining length = topic length (2) + topic + packet
/// id (2) + payload. The relayed copy travels on a longer `p2p/` topic, so
/// it is bigger than the limit: outbound packets are not held to it. Over
/// WebSocket one packet is one binary frame, held to the same limit and not
/// to `frame_bytes` (set far smaller here).
async fn packet_limit(ws: bool) {
    const MAX: usize = 8192;
    // NYNJA_FIXED is the [nynja] table: max_packet goes under it.
    let server = TestServer::with_config(&format!(
        "{NYNJA_FIXED}max_packet = {MAX}\n\n[limits]\nframe_bytes = 1024\n"
    ));
    let (mut a, _) = nynja_login_via(&server, "15550001", ws).await;
    a.recv_record("Profile").await;
    let (mut b, _) = nynja_login(&server, "15550002").await;
    b.recv_record("Profile").await;
    let (a_pr, b_pr) = (phone_roster(&a, "15550001"), phone_roster(&b, "15550002"));

    let payload_for = |remaining: usize| {
        let base = etf::encode(&typing(&b_pr, Term::Binary(Vec::new()))).len();
        let pad = remaining - 2 - EVENTS.len() - 2 - base;
        let bytes = etf::encode(&typing(&b_pr, Term::Binary(vec![b'p'; pad])));
        assert_eq!(2 + EVENTS.len() + 2 + bytes.len(), remaining);
        (bytes, pad)
    };

    let (at, pad) = payload_for(MAX);
    a.send_raw(at).await;
    let (topic, t) = b.recv_record("Typing").await;
    assert_eq!(topic, nynja::p2p_topic(&a_pr, &b_pr));
    assert_eq!(
        t,
        typing(&a_pr, Term::Binary(vec![b'p'; pad])),
        "the relayed Typing"
    );
    profile_round_trip(&mut a, "15550001").await;

    let (past, _) = payload_for(MAX + 1);
    a.client
        .publish(EVENTS, rumqttc::QoS::ExactlyOnce, false, past)
        .await
        .expect("publish");
    a.expect_disconnected().await;

    // b got nothing from it and is still served.
    profile_round_trip(&mut b, "15550002").await;
}

#[tokio::test]
async fn a_packet_of_exactly_max_packet_is_read_and_one_more_byte_closes() {
    packet_limit(false).await;
}

#[tokio::test]
async fn over_websocket_a_packet_of_exactly_max_packet_is_read_and_one_more_byte_closes() {
    packet_limit(true).await;
}

/// `inner` inside `levels` 1-tuples.
fn nested(levels: usize, inner: Term) -> Term {
    (0..levels).fold(inner, |t, _| Term::tuple([t]))
}

/// The Typing tuple is depth 0 and its fields depth 1, so comments nested
/// `max_depth - 1` tuples deep put their innermost `[]` exactly at the
/// limit.
#[tokio::test]
async fn a_term_nested_exactly_max_depth_is_read_and_one_level_more_is_invalid_data() {
    let server = TestServer::with_config(NYNJA_FIXED);
    let (mut a, _) = nynja_login(&server, "15550001").await;
    a.recv_record("Profile").await;
    let (mut b, _) = nynja_login(&server, "15550002").await;
    b.recv_record("Profile").await;
    let (a_pr, b_pr) = (phone_roster(&a, "15550001"), phone_roster(&b, "15550002"));
    let max = Limits::default().max_depth;

    let at = nested(max - 1, Term::nil());
    a.send(&typing(&b_pr, at.clone())).await;
    let (_, t) = b.recv_record("Typing").await;
    assert_eq!(t, typing(&a_pr, at));

    a.send(&typing(&b_pr, nested(max, Term::nil()))).await;
    assert_eq!(a.recv().await.1, io_error("invalid_data"));
    profile_round_trip(&mut a, "15550001").await;

    // b's next Typing is the marker.
    a.send(&typing(&b_pr, Term::bin("marker"))).await;
    let (_, t) = b.recv_record("Typing").await;
    assert_eq!(t, typing(&a_pr, Term::bin("marker")));
}

fn room_message(feed: Term, from: &str, to: &str, msg_id: &str, text: &str) -> Term {
    let mut m = nynja::message(&MessageView {
        id: 0,
        feed,
        msg_id: msg_id.into(),
        from: from.into(),
        to: to.into(),
        created_ms: 1_700_000_000_000,
        text: text.into(),
        status: None,
    });
    // A new message has no chain link yet.
    if let Term::Tuple(items) = &mut m {
        items[1] = Term::nil();
    }
    m
}

#[tokio::test]
async fn text_of_exactly_message_length_is_stored_and_one_more_character_is_invalid_data() {
    let server =
        TestServer::with_config(&format!("{NYNJA_FIXED}\n[limits]\nmessage_length = 100\n"));
    let (mut a, _) = nynja_login(&server, "15550001").await;
    a.recv_record("Profile").await;
    let mut jam = Jam::register(&server, "jules").await;
    let general = jam.lobby().general;
    let a_pr = phone_roster(&a, "15550001");
    let feed = nynja::muc_feed(&general);
    let at = "é".repeat(100);
    let past = "é".repeat(101);

    a.send(&room_message(feed.clone(), &a_pr, &general, "m-at", &at))
        .await;
    // The Ack and the room's copy, in whatever order.
    let (mut acked, mut echoed) = (false, false);
    for _ in 0..10 {
        if acked && echoed {
            break;
        }
        let (topic, t) = a.recv().await;
        if t == nynja::ack("m-at") {
            acked = true;
        } else if let Some(f) = t.record_fields("Message") {
            assert_eq!(topic, format!("room/{general}"));
            assert_eq!(nynja::message_text(&f[9]).as_deref(), Some(at.as_str()));
            echoed = true;
        }
    }
    assert!(acked && echoed, "no Ack or no room copy of the message");
    let d = jam.recv_until(10).await["d"].clone();
    assert_eq!(d["content"], at.as_str(), "{d}");

    a.send(&room_message(
        feed.clone(),
        &a_pr,
        &general,
        "m-past",
        &past,
    ))
    .await;
    assert_eq!(a.recv().await.1, io_error("invalid_data"));
    profile_round_trip(&mut a, "15550001").await;
    assert_eq!(server.stats().await["messages_created"], 1);

    // Jules' next message is the marker.
    a.send(&room_message(feed, &a_pr, &general, "m-mark", "marker"))
        .await;
    let d = jam.recv_until(10).await["d"].clone();
    assert_eq!(d["content"], "marker", "{d}");
}
