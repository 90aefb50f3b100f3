//! Round trips: a frame a client writes decodes to what it said, a frame
//! the server finishes decodes to its op and payload, and every request
//! written as the profile shows it parses back to itself.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::frame::{decode_frame, finish_frame, prefix, Inbound, MAX_REF_LEN};
use super::request::{parse_request, AuthRequest, Request};
use crate::command::{Command, NewMessage};
use crate::event::{CallKind, CallSignal};
use crate::model::StreamKind;
use crate::testgen::{json_value, object_without};
use crate::Id;

/// The caller: call signals carry it as `from`.
const ME: Id = Id(5);

/// A payload without a top-level `ref`, which would be read as the frame's.
fn payload() -> impl Strategy<Value = Value> {
    prop_oneof![
        json_value(),
        object_without(&["ref"]).prop_map(Value::Object)
    ]
    .prop_map(|d| match d {
        Value::Object(mut m) => {
            m.remove("ref");
            Value::Object(m)
        }
        other => other,
    })
}

fn reference() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(proptest::string::string_regex(&format!(".{{0,{MAX_REF_LEN}}}")).unwrap())
}

/// A client frame as the profile shows it.
fn client_frame(op: i64, d: &Value, reference: Option<&str>) -> String {
    let mut frame = json!({"op": op, "d": d});
    if let Some(r) = reference {
        frame["ref"] = json!(r);
    }
    frame.to_string()
}

fn id() -> impl Strategy<Value = Id> {
    any::<u64>().prop_map(Id)
}

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!(".{{0,{max}}}")).unwrap()
}

fn ids(ids: &[Id]) -> Value {
    json!(ids.iter().map(|i| i.0.to_string()).collect::<Vec<_>>())
}

fn opt_id(i: Option<Id>) -> Value {
    json!(i.map(|i| i.0.to_string()))
}

fn auth() -> impl Strategy<Value = AuthRequest> {
    prop_oneof![
        text(20).prop_map(AuthRequest::Token),
        (text(20), text(20), proptest::option::of(text(20))).prop_map(
            |(username, password, display_name)| AuthRequest::Register {
                username,
                password,
                display_name
            }
        ),
        (text(20), text(20))
            .prop_map(|(username, password)| AuthRequest::Login { username, password }),
    ]
}

fn call() -> impl Strategy<Value = CallSignal> {
    let kind = proptest::sample::select(vec![
        CallKind::Offer,
        CallKind::Answer,
        CallKind::Ice,
        CallKind::End,
    ]);
    let s = || proptest::option::of(text(16));
    (
        kind,
        text(16),
        id(),
        (s(), s(), s(), proptest::option::of(any::<u32>()), s()),
    )
        .prop_map(
            |(kind, call_id, to, (sdp, candidate, sdp_mid, mline, reason))| {
                // What the op requires is always there.
                let sdp = match kind {
                    CallKind::Offer | CallKind::Answer => sdp.or_else(|| Some(String::new())),
                    _ => sdp,
                };
                let candidate = match kind {
                    CallKind::Ice => candidate.or_else(|| Some(String::new())),
                    _ => candidate,
                };
                let mut data = Map::new();
                let fields = [
                    ("sdp", sdp.map(Value::String)),
                    ("candidate", candidate.map(Value::String)),
                    ("sdp_mid", sdp_mid.map(Value::String)),
                    ("sdp_mline_index", mline.map(Value::from)),
                    ("reason", reason.map(Value::String)),
                ];
                for (k, v) in fields {
                    if let Some(v) = v {
                        data.insert(k.to_string(), v);
                    }
                }
                CallSignal {
                    kind,
                    call_id,
                    from: ME,
                    to,
                    data,
                }
            },
        )
}

fn command() -> impl Strategy<Value = Command> {
    let emoji = proptest::string::string_regex(".{1,64}").unwrap();
    prop_oneof![
        (
            id(),
            text(40),
            proptest::option::of(id()),
            proptest::collection::vec(id(), 0..4),
            any::<bool>(),
            proptest::option::of(text(32)),
        )
            .prop_map(
                |(channel_id, content, reply_to, attachments, encrypted, nonce)| {
                    Command::SendMessage(NewMessage {
                        channel_id,
                        content,
                        reply_to,
                        attachments,
                        encrypted,
                        nonce,
                        client_ref: None,
                        untagged: false,
                        binary: false,
                    })
                }
            ),
        (
            id(),
            id(),
            text(40),
            any::<bool>(),
            proptest::option::of(text(32))
        )
            .prop_map(|(channel_id, message_id, content, encrypted, nonce)| {
                Command::EditMessage {
                    channel_id,
                    message_id,
                    content,
                    encrypted,
                    nonce,
                }
            }),
        (id(), id()).prop_map(|(channel_id, message_id)| Command::DeleteMessage {
            channel_id,
            message_id
        }),
        (id(), id(), emoji, any::<bool>()).prop_map(|(channel_id, message_id, emoji, add)| {
            Command::React {
                channel_id,
                message_id,
                emoji,
                add,
            }
        }),
        (
            id(),
            proptest::option::of(id()),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(
                |(guild_id, channel_id, self_mute, self_deaf)| Command::VoiceState {
                    guild_id,
                    channel_id,
                    self_mute,
                    self_deaf,
                    peer_id: None,
                }
            ),
        (id(), any::<bool>()).prop_map(|(channel_id, screen)| Command::StreamStart {
            channel_id,
            kind: if screen {
                StreamKind::Screen
            } else {
                StreamKind::Camera
            },
        }),
        id().prop_map(|stream_id| Command::StreamEnd { stream_id }),
        id().prop_map(|channel_id| Command::Typing { channel_id }),
        call().prop_map(Command::Call),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        proptest::option::of(any::<u64>()).prop_map(Request::Heartbeat),
        auth().prop_map(Request::Authenticate),
        command().prop_map(Request::Command),
    ]
}

/// The op and `d` a client writes for `request`, as the profile shows them.
fn written(request: &Request) -> (i64, Value) {
    match request {
        Request::Heartbeat(s) => (0, json!(s)),
        Request::Authenticate(AuthRequest::Token(t)) => (2, json!({"token": t})),
        Request::Authenticate(AuthRequest::Register {
            username,
            password,
            display_name,
        }) => (
            2,
            json!({"action": "register", "username": username, "password": password,
                "display_name": display_name}),
        ),
        Request::Authenticate(AuthRequest::Login { username, password }) => (
            2,
            json!({"action": "login", "username": username, "password": password}),
        ),
        Request::Command(c) => written_command(c),
    }
}

fn written_command(command: &Command) -> (i64, Value) {
    match command {
        Command::SendMessage(m) => (
            10,
            json!({"channel_id": m.channel_id.0.to_string(), "content": m.content,
                "reply_to": opt_id(m.reply_to), "attachments": ids(&m.attachments),
                "encrypted": m.encrypted, "nonce": m.nonce}),
        ),
        Command::EditMessage {
            channel_id,
            message_id,
            content,
            encrypted,
            nonce,
        } => (
            11,
            json!({"channel_id": channel_id.0.to_string(), "id": message_id.0.to_string(),
                "content": content, "encrypted": encrypted, "nonce": nonce}),
        ),
        Command::DeleteMessage {
            channel_id,
            message_id,
        } => (
            12,
            json!({"channel_id": channel_id.0.to_string(), "id": message_id.0.to_string()}),
        ),
        Command::React {
            channel_id,
            message_id,
            emoji,
            add,
        } => (
            13,
            json!({"channel_id": channel_id.0.to_string(), "message_id": message_id.0.to_string(),
                "emoji": emoji, "action": if *add { "add" } else { "remove" }}),
        ),
        Command::VoiceState {
            guild_id,
            channel_id,
            self_mute,
            self_deaf,
            ..
        } => (
            40,
            json!({"guild_id": guild_id.0.to_string(), "channel_id": opt_id(*channel_id),
                "self_mute": self_mute, "self_deaf": self_deaf}),
        ),
        Command::StreamStart { channel_id, kind } => (
            50,
            json!({"channel_id": channel_id.0.to_string(),
                "kind": if *kind == StreamKind::Screen { "screen" } else { "camera" }}),
        ),
        Command::StreamEnd { stream_id } => (51, json!({"stream_id": stream_id.0.to_string()})),
        Command::Typing { channel_id } => (60, json!({"channel_id": channel_id.0.to_string()})),
        Command::Call(c) => {
            let op = match c.kind {
                CallKind::Offer => 90,
                CallKind::Answer => 91,
                CallKind::Ice => 92,
                CallKind::End => 93,
            };
            let mut d = c.data.clone();
            d.insert("call_id".into(), json!(c.call_id));
            d.insert("to".into(), json!(c.to.0.to_string()));
            (op, Value::Object(d))
        }
        other => unreachable!("not a JAM client op: {other:?}"),
    }
}

proptest! {
    #[test]
    fn a_client_frame_decodes_to_what_it_said(
        op in any::<i64>(),
        d in payload(),
        reference in reference(),
    ) {
        let text = client_frame(op, &d, reference.as_deref());
        prop_assert_eq!(decode_frame(&text), Ok(Inbound { op, d, reference }));
    }

    #[test]
    fn a_finished_server_frame_decodes_to_its_op_and_payload(
        op in any::<i64>(),
        d in payload(),
        s in any::<u64>(),
    ) {
        let text = finish_frame(&prefix(op, &d), s);
        let value: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(value, json!({"op": op, "d": d, "s": s}));
        prop_assert_eq!(decode_frame(&text), Ok(Inbound { op, d, reference: None }));
    }

    #[test]
    fn every_request_parses_back_to_itself(
        request in request(),
        reference in reference(),
    ) {
        // The frame's `ref` is the message's idempotency key.
        let mut request = request;
        if let Request::Command(Command::SendMessage(m)) = &mut request {
            m.client_ref = reference.clone();
        }
        let (op, d) = written(&request);
        let frame = decode_frame(&client_frame(op, &d, reference.as_deref())).unwrap();
        prop_assert_eq!(parse_request(&frame, ME), Ok(request));
    }
}
