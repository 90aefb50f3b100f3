//! WebSocket transport owned by a session actor.
//!
//! The HTTP layer hands over the raw connection after the upgrade (see the
//! binary's `http::upgrade`), so a session owns its socket outright: a
//! writer task drains the session's outbound queue into the socket, the
//! queue's bytes are counted, and closing really closes the TCP connection
//! even when the peer has stopped reading. That is what a slow-consumer
//! bound needs, and what a response-body stream cannot give (see
//! `docs/decisions.md`).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::time::Duration;

use actix_codec::Framed;
use actix_http::ws::{CloseCode, CloseReason, Frame, Item, Message, ProtocolError};
use actix_rt::net::TcpStream;
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use futures_util::stream::SplitSink;
use futures_util::SinkExt;
use tokio::sync::Notify;
use tokio::time::{timeout_at, Instant};

use super::ws_codec::LimitedCodec;

/// A session's socket: frames held to their limit at the header
/// ([`LimitedCodec`]).
pub type WsFramed = Framed<TcpStream, LimitedCodec>;

/// How long a closing connection may take to get its last frames out.
pub const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The session's queue of outbound frames was over its bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

struct OutState {
    queue: VecDeque<Message>,
    /// Bytes queued and not yet handed to the socket.
    bytes: usize,
    limit: usize,
    /// Set once a close frame is queued; nothing is queued after it.
    deadline: Option<Instant>,
}

/// The sending half of a session's WebSocket.
#[derive(Clone)]
pub struct WsOut {
    state: Rc<RefCell<OutState>>,
    /// Something was queued.
    wake: Rc<Notify>,
    /// A close was queued. Separate from `wake` so that the writer's two
    /// waits never take each other's wake-up.
    closing: Rc<Notify>,
}

impl WsOut {
    /// Starts the writer task on the current arbiter. `on_closed` runs once
    /// the socket is closed (not merely when the session stops), so that
    /// shutdown can wait for close frames to leave.
    pub fn start(
        sink: SplitSink<WsFramed, Message>,
        limit: usize,
        on_closed: impl FnOnce() + 'static,
    ) -> WsOut {
        let out = WsOut {
            state: Rc::new(RefCell::new(OutState {
                queue: VecDeque::new(),
                bytes: 0,
                limit,
                deadline: None,
            })),
            wake: Rc::new(Notify::new()),
            closing: Rc::new(Notify::new()),
        };
        let task = writer(sink, out.clone());
        actix_rt::spawn(async move {
            task.await;
            on_closed();
        });
        out
    }

    fn push(&self, msg: Message, len: usize) -> Result<(), Overflow> {
        let mut st = self.state.borrow_mut();
        if st.deadline.is_some() {
            return Ok(());
        }
        st.bytes += len;
        st.queue.push_back(msg);
        let over = st.bytes > st.limit;
        drop(st);
        self.wake.notify_one();
        if over {
            Err(Overflow)
        } else {
            Ok(())
        }
    }

    pub fn text(&self, text: impl Into<ByteString>) -> Result<(), Overflow> {
        let text = text.into();
        let len = text.len();
        self.push(Message::Text(text), len)
    }

    pub fn binary(&self, data: Bytes) -> Result<(), Overflow> {
        let len = data.len();
        self.push(Message::Binary(data), len)
    }

    pub fn pong(&self, data: Bytes) -> Result<(), Overflow> {
        let len = data.len();
        self.push(Message::Pong(data), len)
    }

    /// Queues a close frame after what is already queued and gives the
    /// writer [`CLOSE_GRACE`] to get it out; then the socket is dropped.
    pub fn close(&self, code: u16, reason: &str) {
        self.close_inner(code, reason, false);
    }

    /// Like [`WsOut::close`], but discards what is queued first: for a peer
    /// that is not reading, there is no point waiting behind it.
    pub fn close_now(&self, code: u16, reason: &str) {
        self.close_inner(code, reason, true);
    }

    fn close_inner(&self, code: u16, reason: &str, discard: bool) {
        let mut st = self.state.borrow_mut();
        if st.deadline.is_some() {
            return;
        }
        if discard {
            st.queue.clear();
            st.bytes = 0;
        }
        st.queue.push_back(Message::Close(Some(CloseReason {
            code: CloseCode::from(code),
            description: (!reason.is_empty()).then(|| reason.to_string()),
        })));
        st.deadline = Some(Instant::now() + CLOSE_GRACE);
        drop(st);
        self.wake.notify_one();
        self.closing.notify_one();
    }

    pub fn is_closing(&self) -> bool {
        self.state.borrow().deadline.is_some()
    }

    pub fn pending_bytes(&self) -> usize {
        self.state.borrow().bytes
    }
}

enum Step {
    Continue,
    Done,
}

/// Moves queued frames into the socket. Ends (dropping its half of the
/// socket) after a close frame is flushed, on a write error, or when the
/// close deadline passes, whichever comes first.
async fn writer(mut sink: SplitSink<WsFramed, Message>, out: WsOut) {
    loop {
        let deadline = out.state.borrow().deadline;
        let step = step(&mut sink, &out);
        let result = match deadline {
            Some(d) => match timeout_at(d, step).await {
                Ok(r) => r,
                Err(_) => break,
            },
            None => {
                tokio::select! {
                    r = step => r,
                    // A close was queued while we waited on the socket:
                    // go round again under its deadline.
                    _ = wait_for_close(&out) => Ok(Step::Continue),
                }
            }
        };
        match result {
            Ok(Step::Continue) => {}
            Ok(Step::Done) | Err(_) => break,
        }
    }
    let _ = poll_fn(|cx| sink.poll_close_unpin(cx)).await;
}

async fn wait_for_close(out: &WsOut) {
    loop {
        if out.state.borrow().deadline.is_some() {
            return;
        }
        out.closing.notified().await;
    }
}

/// Sends one frame (or waits for one). Cancel-safe: a frame leaves the
/// queue only once the sink has room for it.
async fn step(
    sink: &mut SplitSink<WsFramed, Message>,
    out: &WsOut,
) -> Result<Step, actix_http::ws::ProtocolError> {
    loop {
        if !out.state.borrow().queue.is_empty() {
            break;
        }
        poll_fn(|cx| sink.poll_flush_unpin(cx)).await?;
        if !out.state.borrow().queue.is_empty() {
            break;
        }
        out.wake.notified().await;
    }
    poll_fn(|cx| sink.poll_ready_unpin(cx)).await?;
    let msg = {
        let mut st = out.state.borrow_mut();
        let Some(msg) = st.queue.pop_front() else {
            return Ok(Step::Continue);
        };
        st.bytes = st.bytes.saturating_sub(message_len(&msg));
        msg
    };
    let is_close = matches!(msg, Message::Close(_));
    sink.start_send_unpin(msg)?;
    if is_close {
        poll_fn(|cx| sink.poll_flush_unpin(cx)).await?;
        return Ok(Step::Done);
    }
    Ok(Step::Continue)
}

fn message_len(msg: &Message) -> usize {
    match msg {
        Message::Text(t) => t.len(),
        Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b.len(),
        _ => 0,
    }
}

/// A complete inbound message, after reassembling fragments.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound {
    Text(Bytes),
    Binary(Bytes),
    Ping(Bytes),
    Close(Option<CloseReason>),
    /// Nothing to act on yet (a fragment, a pong).
    Nothing,
}

/// What one WebSocket frame from the peer amounts to, for a session.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    Text(Bytes),
    Binary(Bytes),
    /// A message over the session's frame limit (it is not kept).
    TooLarge,
    /// Nothing for the dialect: a fragment, a pong, or a ping answered.
    Nothing,
    /// The output queue overflowed while answering a ping.
    SlowConsumer,
    /// The connection is over: the peer closed it (its code is echoed), or
    /// the frame was unreadable (1002) or far too large (1009).
    Closed {
        code: u16,
        reason: &'static str,
    },
}

impl Assembler {
    /// Reads one frame: control frames are answered here, data frames are
    /// reassembled and held to the limit.
    pub fn receive(&mut self, out: &WsOut, item: Result<Frame, ProtocolError>) -> Received {
        let frame = match item {
            Ok(f) => f,
            Err(ProtocolError::Overflow) => {
                return Received::Closed {
                    code: 1009,
                    reason: "frame too large",
                }
            }
            Err(_) => {
                return Received::Closed {
                    code: 1002,
                    reason: "protocol error",
                }
            }
        };
        match self.push(frame) {
            Err(TooLarge) => Received::TooLarge,
            Ok(Inbound::Text(b)) if b.len() > self.max => Received::TooLarge,
            Ok(Inbound::Text(b)) => Received::Text(b),
            Ok(Inbound::Binary(b)) => Received::Binary(b),
            Ok(Inbound::Ping(b)) => match out.pong(b) {
                Ok(()) => Received::Nothing,
                Err(Overflow) => Received::SlowConsumer,
            },
            Ok(Inbound::Close(reason)) => Received::Closed {
                code: reason.map(|r| u16::from(r.code)).unwrap_or(1000),
                reason: "",
            },
            Ok(Inbound::Nothing) => Received::Nothing,
        }
    }
}

/// A fragmented message grew past the limit.
#[derive(Debug, PartialEq, Eq)]
pub struct TooLarge;

/// Reassembles fragmented messages up to `max` bytes.
pub struct Assembler {
    buf: BytesMut,
    text: bool,
    active: bool,
    max: usize,
}

impl Assembler {
    pub fn new(max: usize) -> Self {
        Assembler {
            buf: BytesMut::new(),
            text: false,
            active: false,
            max,
        }
    }

    pub fn push(&mut self, frame: Frame) -> Result<Inbound, TooLarge> {
        Ok(match frame {
            Frame::Text(b) => Inbound::Text(b),
            Frame::Binary(b) => Inbound::Binary(b),
            Frame::Ping(b) => Inbound::Ping(b),
            Frame::Pong(_) => Inbound::Nothing,
            Frame::Close(r) => Inbound::Close(r),
            Frame::Continuation(item) => {
                let (first, last, data) = match item {
                    Item::FirstText(b) => {
                        self.text = true;
                        (true, false, b)
                    }
                    Item::FirstBinary(b) => {
                        self.text = false;
                        (true, false, b)
                    }
                    Item::Continue(b) => (false, false, b),
                    Item::Last(b) => (false, true, b),
                };
                if first {
                    self.buf.clear();
                    self.active = true;
                } else if !self.active {
                    return Ok(Inbound::Nothing);
                }
                if self.buf.len() + data.len() > self.max {
                    self.buf.clear();
                    self.active = false;
                    return Err(TooLarge);
                }
                self.buf.extend_from_slice(&data);
                if !last {
                    return Ok(Inbound::Nothing);
                }
                self.active = false;
                let whole = self.buf.split().freeze();
                if self.text {
                    Inbound::Text(whole)
                } else {
                    Inbound::Binary(whole)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reassembles_fragments_within_the_limit() {
        let mut a = Assembler::new(8);
        assert_eq!(
            a.push(Frame::Continuation(Item::FirstText(Bytes::from_static(
                b"ab"
            )))),
            Ok(Inbound::Nothing)
        );
        assert_eq!(
            a.push(Frame::Continuation(Item::Continue(Bytes::from_static(
                b"cd"
            )))),
            Ok(Inbound::Nothing)
        );
        assert_eq!(
            a.push(Frame::Continuation(Item::Last(Bytes::from_static(b"e")))),
            Ok(Inbound::Text(Bytes::from_static(b"abcde")))
        );
        a.push(Frame::Continuation(Item::FirstBinary(Bytes::from_static(
            b"12345",
        ))))
        .unwrap();
        assert_eq!(
            a.push(Frame::Continuation(Item::Last(Bytes::from_static(b"6789")))),
            Err(TooLarge)
        );
    }
}
