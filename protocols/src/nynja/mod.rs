//! The CHAT (SYNRC/NYNJA) records, 2019 revision (`roster.hrl` VERSION
//! "11"): Erlang records carried as `term_to_binary` in MQTT payloads.
//!
//! # Format
//! ```text
//! → events/1//api/anon//  {'Auth',ClientId,DevKey,[],Phone,[],reg,[],[],[],[Feature],[],[],[],[]}
//! ← actions/1/api/<cid>   {io,{ok,sms_sent},<<>>}
//! → events/...            {'Message',[],chain,{p2p,A,B},[],[],MsgId,From,To,Ms,[{'Desc',..}],[],[],[],[],[],[]}
//! ← actions/1/api/<cid>   {'Ack','Message',MsgId};   p2p/A/B  the stored Message
//! ```
//! Incoming records are checked for their tag and exact arity (the 2018
//! arities real clients sent are accepted too: Room 18, Contact 16);
//! anything else is `invalid_data`.

pub mod etf;
pub mod mqtt;
#[cfg(test)]
mod tests;

use crate::nynja::etf::Term;

/// Tuple sizes (tag included) of the 2019 records.
pub const ARITIES: [(&str, usize); 17] = [
    ("Auth", 15),
    ("Profile", 9),
    ("Service", 8),
    ("Roster", 14),
    ("Contact", 15),
    ("Message", 17),
    ("Desc", 6),
    ("Feature", 5),
    ("History", 7),
    ("Friend", 5),
    ("Member", 18),
    ("Room", 19),
    ("Search", 7),
    ("Typing", 3),
    ("Ack", 3),
    ("p2p", 3),
    ("muc", 2),
];

/// Records out of scope, answered `{io,{error,not_supported},<<>>}`.
pub const NOT_SUPPORTED: [&str; 9] = [
    "Person",
    "Star",
    "Tag",
    "Loc",
    "CDR",
    "Link",
    "StickerPack",
    "Job",
    "ftp",
];

/// Why a payload is not a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// `{io,{error,invalid_data},<<>>}`.
    Data,
    /// `{io,{error,not_supported},<<>>}`.
    NotSupported,
}

/// A request record: its tag and fields (the tuple without the tag), with
/// 2018 arities widened to 2019.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub name: String,
    pub fields: Vec<Term>,
}

impl Request {
    pub fn parse(term: &Term) -> Result<Request, Invalid> {
        let Some(name) = term.record_name() else {
            return Err(Invalid::Data);
        };
        if NOT_SUPPORTED.contains(&name) {
            return Err(Invalid::NotSupported);
        }
        let Term::Tuple(items) = term else {
            return Err(Invalid::Data);
        };
        let mut fields = items[1..].to_vec();
        let want = ARITIES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, a)| a - 1)
            .ok_or(Invalid::Data)?;
        match (name, fields.len()) {
            (_, n) if n == want => {}
            // 2018 Room had no `links` (after `name`): insert it.
            ("Room", 17) => fields.insert(2, Term::nil()),
            // 2018-06 Contact had `email, vox_id` and no `services`.
            ("Contact", 15) => {
                fields.remove(5);
                fields.remove(5);
                fields.insert(11, Term::nil());
            }
            _ => return Err(Invalid::Data),
        }
        Ok(Request {
            name: name.to_string(),
            fields,
        })
    }

    /// The record's last field: its `status` (or `type` for Auth).
    pub fn status(&self) -> Option<&str> {
        if self.name == "Auth" {
            return self.fields.get(5).and_then(Term::as_atom);
        }
        self.fields.last().and_then(Term::as_atom)
    }

    pub fn field(&self, i: usize) -> &Term {
        static NIL: Term = Term::List(Vec::new());
        self.fields.get(i).unwrap_or(&NIL)
    }

    /// A binary field as text; `[]` is None; anything else is invalid.
    pub fn text(&self, i: usize) -> Result<Option<String>, Invalid> {
        match self.field(i) {
            t if t.is_nil() => Ok(None),
            Term::Binary(b) => Ok(Some(String::from_utf8_lossy(b).into_owned())),
            _ => Err(Invalid::Data),
        }
    }
}

/// `{io, Code, Data}`.
pub fn io(code: Term, data: Term) -> Term {
    Term::tuple([Term::atom("io"), code, data])
}

/// `{io,{ok,What},Data}`.
pub fn io_ok(what: &str, data: Term) -> Term {
    io(Term::tuple([Term::atom("ok"), Term::atom(what)]), data)
}

/// `{io,{error,What},<<>>}`.
pub fn io_error(what: &str) -> Term {
    io(
        Term::tuple([Term::atom("error"), Term::atom(what)]),
        Term::bin(""),
    )
}

/// `{io,{ok2,login,{ClientId,Token}},<<>>}`.
pub fn io_login(client_id: &str, token: &str) -> Term {
    io(
        Term::tuple([
            Term::atom("ok2"),
            Term::atom("login"),
            Term::tuple([Term::bin(client_id), Term::bin(token)]),
        ]),
        Term::bin(""),
    )
}

/// `{'Ack','Message',MsgId}`.
pub fn ack(msg_id: &str) -> Term {
    Term::record("Ack", [Term::atom("Message"), Term::bin(msg_id)])
}

/// `<phone>_<roster id>`.
pub fn phone_roster(phone: &str, roster_id: u64) -> String {
    format!("{phone}_{roster_id}")
}

/// The roster id at the end of a phone_roster id.
pub fn roster_id_of(phone_roster: &str) -> Option<u64> {
    phone_roster.rsplit_once('_')?.1.parse().ok()
}

/// The `p2p/A/B` topic: the two ids sorted.
pub fn p2p_topic(a: &str, b: &str) -> String {
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    format!("p2p/{x}/{y}")
}

/// `{p2p, A, B}` with the ids sorted, as feeds carry them.
pub fn p2p_feed(a: &str, b: &str) -> Term {
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    Term::tuple([Term::atom("p2p"), Term::bin(x), Term::bin(y)])
}

/// What a Contact shows of a user.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactView {
    pub phone_roster: String,
    pub avatar: Option<String>,
    pub names: String,
    pub surnames: String,
    pub nick: String,
    pub created_ms: i64,
    pub online: bool,
    pub status: String,
}

/// An atom, or `[]` (the record default) for none.
fn atom_or_nil(a: &str) -> Term {
    if a.is_empty() {
        Term::nil()
    } else {
        Term::atom(a)
    }
}

fn opt_bin(s: &Option<String>) -> Term {
    s.as_ref().map_or_else(Term::nil, Term::bin)
}

/// A 2019 Contact (15-tuple).
pub fn contact(c: &ContactView) -> Term {
    Term::record(
        "Contact",
        [
            Term::bin(&c.phone_roster),
            opt_bin(&c.avatar),
            Term::bin(&c.names),
            Term::bin(&c.surnames),
            Term::bin(&c.nick),
            Term::nil(),
            Term::Int(0),
            Term::nil(),
            Term::Int(0),
            Term::Int(c.created_ms),
            Term::nil(),
            Term::nil(),
            Term::atom(if c.online { "online" } else { "offline" }),
            atom_or_nil(&c.status),
        ],
    )
}

/// A 2019 Roster (14-tuple).
pub fn roster(id: u64, me: &ContactView, phone: &str, userlist: Vec<Term>, status: &str) -> Term {
    Term::record(
        "Roster",
        [
            Term::Int(id as i64),
            Term::bin(&me.names),
            Term::bin(&me.surnames),
            Term::nil(),
            Term::bin(&me.nick),
            Term::List(userlist),
            Term::nil(),
            Term::nil(),
            Term::nil(),
            Term::bin(phone),
            opt_bin(&me.avatar),
            Term::Int(0),
            atom_or_nil(status),
        ],
    )
}

/// A 2019 Profile (9-tuple).
pub fn profile(phone: &str, rosters: Vec<Term>, status: &str) -> Term {
    Term::record(
        "Profile",
        [
            Term::bin(phone),
            Term::nil(),
            Term::List(rosters),
            Term::nil(),
            Term::Int(0),
            Term::Int(0),
            Term::atom("online"),
            Term::atom(status),
        ],
    )
}

/// What a stored message shows.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageView {
    pub id: i64,
    pub feed: Term,
    pub msg_id: String,
    pub from: String,
    pub to: String,
    pub created_ms: i64,
    pub text: String,
    pub status: Option<&'static str>,
}

/// A 2019 Message (17-tuple) with one text Desc.
pub fn message(m: &MessageView) -> Term {
    let desc = Term::record(
        "Desc",
        [
            Term::bin(&m.msg_id),
            Term::bin("text"),
            Term::bin(&m.text),
            Term::nil(),
            Term::nil(),
        ],
    );
    Term::record(
        "Message",
        [
            Term::Int(m.id),
            Term::atom("chain"),
            m.feed.clone(),
            Term::nil(),
            Term::nil(),
            Term::bin(&m.msg_id),
            Term::bin(&m.from),
            Term::bin(&m.to),
            Term::Int(m.created_ms),
            Term::List(vec![desc]),
            Term::nil(),
            Term::nil(),
            Term::nil(),
            Term::nil(),
            Term::nil(),
            m.status.map_or_else(Term::nil, Term::atom),
        ],
    )
}

/// The text of a Message's `files`: its text Descs, joined.
pub fn message_text(files: &Term) -> Option<String> {
    let list = files.as_list()?;
    let mut out = Vec::new();
    for d in list {
        let f = d.record_fields("Desc")?;
        let mime = f.get(1).and_then(Term::as_text).unwrap_or_default();
        if mime == "text" || mime.is_empty() {
            out.push(f.get(2).and_then(Term::as_text).unwrap_or_default());
        }
    }
    Some(out.join("\n"))
}

/// `{muc, RoomId}`.
pub fn muc_feed(room: &str) -> Term {
    Term::tuple([Term::atom("muc"), Term::bin(room)])
}

/// A 2019 Member (18-tuple) of room `room`.
pub fn member(id: i64, room: &str, phone_roster: &str, names: &str, status: &str) -> Term {
    Term::record(
        "Member",
        [
            Term::Int(id),
            Term::atom("chain"),
            muc_feed(room),
            Term::nil(),
            Term::nil(),
            Term::nil(),
            Term::bin(phone_roster),
            Term::nil(),
            Term::bin(names),
            Term::nil(),
            Term::nil(),
            Term::Int(0),
            Term::Int(0),
            Term::nil(),
            Term::nil(),
            Term::atom("offline"),
            Term::atom(status),
        ],
    )
}

/// A 2019 Room (19-tuple).
pub fn room(
    id: &str,
    name: &str,
    members: Vec<Term>,
    admins: Vec<Term>,
    kind: &str,
    created_ms: i64,
    status: &str,
) -> Term {
    Term::record(
        "Room",
        [
            Term::bin(id),
            Term::bin(name),
            Term::nil(),
            Term::nil(),
            Term::nil(),
            Term::List(members),
            Term::List(admins),
            Term::nil(),
            Term::atom(kind),
            Term::nil(),
            Term::Int(0),
            Term::Int(0),
            Term::nil(),
            Term::nil(),
            Term::nil(),
            Term::Int(0),
            Term::Int(created_ms),
            Term::atom(status),
        ],
    )
}

/// An ETF payload on an MQTT topic for the NYNJA sessions it is handed to,
/// carried as [`crate::event::DialectOnly`].
#[derive(Debug, Clone, PartialEq)]
pub struct Publish {
    pub topic: String,
    pub payload: bytes::Bytes,
}
