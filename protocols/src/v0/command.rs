//! V0 commands as types: what clients send ([`Inbound`]) and what the
//! server sends ([`Outbound`]), each to and from its payload. Field names
//! are the draft's; ids are strings, `msg` is msgpack bin or str.

use rmpv::Value;

use super::payload::Payload;

/// An opaque message body: msgpack str or bin, kept as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Text(String),
    Bytes(Vec<u8>),
}

impl Body {
    fn from_value(v: &Value) -> Option<Body> {
        match v {
            Value::String(s) => s.as_str().map(|s| Body::Text(s.to_string())),
            Value::Binary(b) => Some(Body::Bytes(b.clone())),
            _ => None,
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Body::Text(s) => Value::from(s.as_str()),
            Body::Bytes(b) => Value::Binary(b.clone()),
        }
    }
}

/// A message of a channel's history (`CH_APPEND.messages`, `CH_MERGE.msg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub id: String,
    pub from: String,
    pub msg: Body,
    pub timestamp: i64,
    pub acks: Vec<String>,
}

impl HistoryEntry {
    fn from_value(v: &Value) -> Option<HistoryEntry> {
        let p = Payload(
            v.as_map()?
                .iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.clone())))
                .collect(),
        );
        Some(HistoryEntry {
            id: text(&p, "id")?,
            from: text(&p, "from")?,
            msg: Body::from_value(p.get("msg")?)?,
            timestamp: p.get("timestamp").and_then(Value::as_i64).unwrap_or(0),
            acks: strings(&p, "acks").unwrap_or_default(),
        })
    }

    fn to_value(&self) -> Value {
        Value::Map(vec![
            (Value::from("id"), Value::from(self.id.as_str())),
            (Value::from("from"), Value::from(self.from.as_str())),
            (Value::from("msg"), self.msg.to_value()),
            (Value::from("timestamp"), Value::from(self.timestamp)),
            (Value::from("acks"), string_array(&self.acks)),
        ])
    }
}

fn text(p: &Payload, key: &str) -> Option<String> {
    p.get(key).and_then(Value::as_str).map(str::to_string)
}

fn number(p: &Payload, key: &str) -> Option<u64> {
    p.get(key).and_then(Value::as_u64)
}

fn strings(p: &Payload, key: &str) -> Option<Vec<String>> {
    p.get(key)?
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect()
}

fn string_array(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| Value::from(s.as_str())).collect())
}

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    Cnn {
        id: String,
    },
    Kalive,
    Dcnn,
    Info,
    LstUsr,
    CnnUsr {
        to: String,
    },
    PvMsg {
        to: String,
        msg_id: String,
        msg: Body,
    },
    AckMsg {
        from: String,
        msg_id: String,
    },
    ChLst,
    ChPull {
        id: String,
        anchor: Option<String>,
    },
    ChMerge {
        id: String,
        msg: Vec<HistoryEntry>,
    },
    ChMsg {
        id: String,
        msg_id: String,
        msg: Body,
    },
    AckChMsg {
        id: String,
    },
    ChCommit {
        id: String,
        acks: Vec<String>,
    },
    ChLead {
        election: u64,
    },
    ChVote {
        election: u64,
        user: String,
    },
    ChAckReq {
        id: String,
        users: Vec<String>,
    },
    ChJoin {
        id: String,
    },
    ChLeave {
        id: String,
    },
}

/// Why a known command's payload does not fit it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    Unknown,
    Missing(&'static str),
}

impl Inbound {
    pub fn name(&self) -> &'static str {
        match self {
            Inbound::Cnn { .. } => "CNN",
            Inbound::Kalive => "KALIVE",
            Inbound::Dcnn => "DCNN",
            Inbound::Info => "INFO",
            Inbound::LstUsr => "LST_USR",
            Inbound::CnnUsr { .. } => "CNN_USR",
            Inbound::PvMsg { .. } => "PV_MSG",
            Inbound::AckMsg { .. } => "ACK_MSG",
            Inbound::ChLst => "CH_LST",
            Inbound::ChPull { .. } => "CH_PULL",
            Inbound::ChMerge { .. } => "CH_MERGE",
            Inbound::ChMsg { .. } => "CH_MSG",
            Inbound::AckChMsg { .. } => "ACK_CH_MSG",
            Inbound::ChCommit { .. } => "CH_COMMIT",
            Inbound::ChLead { .. } => "CH_LEAD",
            Inbound::ChVote { .. } => "CH_VOTE",
            Inbound::ChAckReq { .. } => "CH_ACK_REQ",
            Inbound::ChJoin { .. } => "CH_JOIN",
            Inbound::ChLeave { .. } => "CH_LEAVE",
        }
    }

    pub fn parse(name: &str, p: &Payload) -> Result<Inbound, ParseError> {
        use ParseError::Missing;
        let t = |k: &'static str| text(p, k).ok_or(Missing(k));
        let body = |k: &'static str| p.get(k).and_then(Body::from_value).ok_or(Missing(k));
        let list = |k: &'static str| strings(p, k).ok_or(Missing(k));
        let n = |k: &'static str| number(p, k).ok_or(Missing(k));
        Ok(match name {
            "CNN" => Inbound::Cnn { id: t("id")? },
            "KALIVE" => Inbound::Kalive,
            "DCNN" => Inbound::Dcnn,
            "INFO" => Inbound::Info,
            "LST_USR" => Inbound::LstUsr,
            "CNN_USR" => Inbound::CnnUsr { to: t("to")? },
            "PV_MSG" => Inbound::PvMsg {
                to: t("to")?,
                msg_id: t("msg_id")?,
                msg: body("msg")?,
            },
            "ACK_MSG" => Inbound::AckMsg {
                from: t("from")?,
                msg_id: t("msg_id")?,
            },
            "CH_LST" => Inbound::ChLst,
            "CH_PULL" => Inbound::ChPull {
                id: t("id")?,
                anchor: text(p, "anchor"),
            },
            "CH_MERGE" => Inbound::ChMerge {
                id: t("id")?,
                msg: p
                    .get("msg")
                    .and_then(Value::as_array)
                    .ok_or(Missing("msg"))?
                    .iter()
                    .map(|v| HistoryEntry::from_value(v).ok_or(Missing("msg")))
                    .collect::<Result<_, _>>()?,
            },
            "CH_MSG" => Inbound::ChMsg {
                id: t("id")?,
                msg_id: t("msg_id")?,
                msg: body("msg")?,
            },
            "ACK_CH_MSG" => Inbound::AckChMsg { id: t("id")? },
            "CH_COMMIT" => Inbound::ChCommit {
                id: t("id")?,
                acks: list("acks")?,
            },
            "CH_LEAD" => Inbound::ChLead {
                election: n("election")?,
            },
            "CH_VOTE" => Inbound::ChVote {
                election: n("election")?,
                user: t("user")?,
            },
            "CH_ACK_REQ" => Inbound::ChAckReq {
                id: t("id")?,
                users: list("users")?,
            },
            "CH_JOIN" => Inbound::ChJoin { id: t("id")? },
            "CH_LEAVE" => Inbound::ChLeave { id: t("id")? },
            _ => return Err(ParseError::Unknown),
        })
    }

    /// The payload fields (without `timestamp` and `nonce`), as a client
    /// sends them.
    pub fn fields(&self) -> Payload {
        let mut p = Payload::default();
        match self {
            Inbound::Cnn { id } => p.put("id", id.as_str()),
            Inbound::Kalive | Inbound::Dcnn | Inbound::Info | Inbound::LstUsr | Inbound::ChLst => {}
            Inbound::CnnUsr { to } => p.put("to", to.as_str()),
            Inbound::PvMsg { to, msg_id, msg } => {
                p.put("to", to.as_str());
                p.put("msg_id", msg_id.as_str());
                p.put("msg", msg.to_value());
            }
            Inbound::AckMsg { from, msg_id } => {
                p.put("from", from.as_str());
                p.put("msg_id", msg_id.as_str());
            }
            Inbound::ChPull { id, anchor } => {
                p.put("id", id.as_str());
                if let Some(a) = anchor {
                    p.put("anchor", a.as_str());
                }
            }
            Inbound::ChMerge { id, msg } => {
                p.put("id", id.as_str());
                p.put(
                    "msg",
                    Value::Array(msg.iter().map(HistoryEntry::to_value).collect()),
                );
            }
            Inbound::ChMsg { id, msg_id, msg } => {
                p.put("id", id.as_str());
                p.put("msg_id", msg_id.as_str());
                p.put("msg", msg.to_value());
            }
            Inbound::AckChMsg { id } | Inbound::ChJoin { id } | Inbound::ChLeave { id } => {
                p.put("id", id.as_str())
            }
            Inbound::ChCommit { id, acks } => {
                p.put("id", id.as_str());
                p.put("acks", string_array(acks));
            }
            Inbound::ChLead { election } => p.put("election", *election),
            Inbound::ChVote { election, user } => {
                p.put("election", *election);
                p.put("user", user.as_str());
            }
            Inbound::ChAckReq { id, users } => {
                p.put("id", id.as_str());
                p.put("users", string_array(users));
            }
        }
        p
    }
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    Sinfo {
        server_name: String,
        timeout_s: u64,
    },
    Ucnn {
        id: String,
        name: String,
    },
    Udcnn {
        id: String,
        name: String,
    },
    UsrLst {
        users: Vec<(String, String, String)>,
    },
    UsrHsk {
        id: String,
    },
    UsrAdd {
        id: String,
        status: String,
        name: String,
    },
    UsrRmd {
        id: String,
    },
    Msg {
        from: String,
        msg_id: String,
        msg: Body,
    },
    MsgAck {
        msg_id: String,
    },
    LstCh {
        channels: Vec<(String, String, String)>,
    },
    ChUjoin {
        channel: String,
        user: String,
    },
    ChUleave {
        channel: String,
        user: String,
    },
    ChStatus {
        id: String,
        name: String,
        leader: String,
    },
    ChAppend {
        id: String,
        anchor: String,
        messages: Vec<HistoryEntry>,
    },
    ChMsg {
        id: String,
        msg_id: String,
        msg: Body,
    },
    ChMsgAck {
        id: String,
        user: String,
    },
    ChMsgCommit {
        id: String,
        acks: Vec<String>,
    },
    ChMsgConfirm {
        id: String,
        message: String,
    },
    ChElected {
        election: u64,
        leader: String,
    },
    ChVote {
        election: u64,
        user: String,
    },
    Err {
        cmd: String,
        reason: String,
    },
}

fn entries(items: &[(String, String, String)], keys: [&str; 3], status: Option<&str>) -> Value {
    Value::Array(
        items
            .iter()
            .map(|(a, b, c)| {
                let mut m = vec![
                    (Value::from(keys[0]), Value::from(a.as_str())),
                    (Value::from(keys[1]), Value::from(b.as_str())),
                    (Value::from(keys[2]), Value::from(c.as_str())),
                ];
                if let Some(s) = status {
                    m.push((Value::from("status"), Value::from(s)));
                }
                Value::Map(m)
            })
            .collect(),
    )
}

impl Outbound {
    pub fn name(&self) -> &'static str {
        match self {
            Outbound::Sinfo { .. } => "SINFO",
            Outbound::Ucnn { .. } => "UCNN",
            Outbound::Udcnn { .. } => "UDCNN",
            Outbound::UsrLst { .. } => "USR_LST",
            Outbound::UsrHsk { .. } => "USR_HSK",
            Outbound::UsrAdd { .. } => "USR_ADD",
            Outbound::UsrRmd { .. } => "USR_RMD",
            Outbound::Msg { .. } => "MSG",
            Outbound::MsgAck { .. } => "MSG_ACK",
            Outbound::LstCh { .. } => "LST_CH",
            Outbound::ChUjoin { .. } => "CH_UJOIN",
            Outbound::ChUleave { .. } => "CH_ULEAVE",
            Outbound::ChStatus { .. } => "CH_STATUS",
            Outbound::ChAppend { .. } => "CH_APPEND",
            Outbound::ChMsg { .. } => "CH_MSG",
            Outbound::ChMsgAck { .. } => "CH_MSG_ACK",
            Outbound::ChMsgCommit { .. } => "CH_MSG_COMMIT",
            Outbound::ChMsgConfirm { .. } => "CH_MSG_CONFIRM",
            Outbound::ChElected { .. } => "CH_ELECTED",
            Outbound::ChVote { .. } => "CH_VOTE",
            Outbound::Err { .. } => "ERR",
        }
    }

    /// The payload fields (without `timestamp` and `nonce`).
    pub fn fields(&self) -> Payload {
        let mut p = Payload::default();
        match self {
            Outbound::Sinfo {
                server_name,
                timeout_s,
            } => {
                p.put("protocol_version", 0u64);
                // The draft's spelling, for clients written against it.
                p.put("protocol_verion", 0u64);
                p.put("server_name", server_name.as_str());
                p.put("version", 0u64);
                p.put("timeout_s", *timeout_s);
            }
            Outbound::Ucnn { id, name } | Outbound::Udcnn { id, name } => {
                p.put("id", id.as_str());
                p.put("name", name.as_str());
            }
            Outbound::UsrLst { users } => {
                p.put("users", entries(users, ["id", "status", "name"], None))
            }
            Outbound::UsrHsk { id } | Outbound::UsrRmd { id } => p.put("id", id.as_str()),
            Outbound::UsrAdd { id, status, name } => {
                p.put("id", id.as_str());
                p.put("status", status.as_str());
                p.put("name", name.as_str());
            }
            Outbound::Msg { from, msg_id, msg } => {
                p.put("from", from.as_str());
                p.put("msg_id", msg_id.as_str());
                p.put("msg", msg.to_value());
            }
            Outbound::MsgAck { msg_id } => p.put("msg_id", msg_id.as_str()),
            Outbound::LstCh { channels } => p.put(
                "channels",
                entries(channels, ["id", "name", "leader"], Some("healthy")),
            ),
            Outbound::ChUjoin { channel, user } | Outbound::ChUleave { channel, user } => {
                p.put("channel", channel.as_str());
                p.put("user", user.as_str());
            }
            Outbound::ChStatus { id, name, leader } => {
                p.put("id", id.as_str());
                p.put("name", name.as_str());
                p.put("leader", leader.as_str());
            }
            Outbound::ChAppend {
                id,
                anchor,
                messages,
            } => {
                p.put("id", id.as_str());
                p.put("anchor", anchor.as_str());
                p.put(
                    "messages",
                    Value::Array(messages.iter().map(HistoryEntry::to_value).collect()),
                );
            }
            Outbound::ChMsg { id, msg_id, msg } => {
                p.put("id", id.as_str());
                p.put("msg_id", msg_id.as_str());
                p.put("msg", msg.to_value());
            }
            Outbound::ChMsgAck { id, user } => {
                p.put("id", id.as_str());
                p.put("user", user.as_str());
            }
            Outbound::ChMsgCommit { id, acks } => {
                p.put("id", id.as_str());
                p.put("acks", string_array(acks));
            }
            Outbound::ChMsgConfirm { id, message } => {
                p.put("id", id.as_str());
                p.put("message", message.as_str());
            }
            Outbound::ChElected { election, leader } => {
                p.put("election", *election);
                p.put("leader", leader.as_str());
            }
            Outbound::ChVote { election, user } => {
                p.put("election", *election);
                p.put("user", user.as_str());
            }
            Outbound::Err { cmd, reason } => {
                p.put("cmd", cmd.as_str());
                p.put("reason", reason.as_str());
            }
        }
        p
    }
}
