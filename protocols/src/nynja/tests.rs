//! Records against the captured client payloads, and the reply shapes.

use super::*;
use crate::nynja::etf::{decode, encode, Limits};

fn capture(name_prefix: &str) -> Vec<u8> {
    let text = include_str!("etf/testdata/nynja-captures-2018.txt");
    let mut hit = false;
    for line in text.lines() {
        if line.starts_with(&format!("# {name_prefix}")) {
            hit = true;
        }
        if hit {
            if let Some(start) = line.find("<<") {
                let end = line.find(">>").unwrap();
                return line[start + 2..end]
                    .split(',')
                    .map(|b| b.trim().parse().unwrap())
                    .collect();
            }
        }
    }
    panic!("no capture {name_prefix}")
}

#[test]
fn the_captured_registration_is_an_auth_reg() {
    let t = decode(&capture("LOGIN"), Limits::default()).unwrap();
    let r = Request::parse(&t).unwrap();
    assert_eq!(r.name, "Auth");
    assert_eq!(r.status(), Some("reg"));
    assert_eq!(r.text(3).unwrap().as_deref(), Some("8613777322455"));
    let t = decode(&capture("SMS"), Limits::default()).unwrap();
    let r = Request::parse(&t).unwrap();
    assert_eq!(r.status(), Some("verify"));
}

#[test]
fn arities_are_exact() {
    let short = Term::record("Auth", vec![Term::nil(), Term::nil(), Term::nil()]);
    assert_eq!(Request::parse(&short), Err(Invalid::Data));
    assert_eq!(Request::parse(&Term::atom("Auth")), Err(Invalid::Data));
    let unknown = Term::record("Nope", [Term::nil()]);
    assert_eq!(Request::parse(&unknown), Err(Invalid::Data));
    let person = Term::record("Person", [Term::nil()]);
    assert_eq!(Request::parse(&person), Err(Invalid::NotSupported));
    // 2018 Room (18-tuple) is widened to 2019.
    let old_room = Term::record("Room", std::iter::repeat_n(Term::nil(), 17));
    assert_eq!(Request::parse(&old_room).unwrap().fields.len(), 18);
    let old_contact = Term::record("Contact", std::iter::repeat_n(Term::nil(), 15));
    assert_eq!(Request::parse(&old_contact).unwrap().fields.len(), 14);
}

#[test]
fn reply_shapes() {
    // {io,{ok,sms_sent},<<>>}, as OTP writes it.
    assert_eq!(
        encode(&io_ok("sms_sent", Term::bin(""))),
        vec![
            131, 104, 3, 100, 0, 2, 105, 111, 104, 2, 100, 0, 2, 111, 107, 100, 0, 8, 115, 109,
            115, 95, 115, 101, 110, 116, 109, 0, 0, 0, 0
        ]
    );
    let e = io_error("invalid_data");
    assert_eq!(
        format!("{e:?}"),
        format!(
            "{:?}",
            Term::tuple([
                Term::atom("io"),
                Term::tuple([Term::atom("error"), Term::atom("invalid_data")]),
                Term::bin("")
            ])
        )
    );
    assert_eq!(p2p_topic("b_2", "a_1"), "p2p/a_1/b_2");
    assert_eq!(roster_id_of("8613777322455_518"), Some(518));
    let m = message(&MessageView {
        id: 7,
        feed: p2p_feed("b_2", "a_1"),
        msg_id: "m1".into(),
        from: "a_1".into(),
        to: "b_2".into(),
        created_ms: 1_700_000_000_000,
        text: "hi".into(),
        status: None,
    });
    let r = Request::parse(&m).unwrap();
    assert_eq!(r.fields.len(), 16);
    assert_eq!(message_text(r.field(9)).as_deref(), Some("hi"));
    assert_eq!(
        Request::parse(&contact(&ContactView {
            phone_roster: "a_1".into(),
            avatar: None,
            names: "A".into(),
            surnames: String::new(),
            nick: "a".into(),
            created_ms: 0,
            online: true,
            status: "friend".into(),
        }))
        .unwrap()
        .fields
        .len(),
        14
    );
}
