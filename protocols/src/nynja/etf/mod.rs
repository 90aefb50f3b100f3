//! Erlang External Term Format, as NYNJA clients speak it (`term_to_binary`
//! payloads, "BERT").
//!
//! # Format
//! ```text
//! 131, then one term:
//!   97 u8 | 98 i32 | 110 n sign bytes(le) | 111 u32 sign bytes(le)  integers
//!   70 f64 | 99 31-byte string                                        floats
//!   100 u16 latin-1 | 115 u8 latin-1 | 118 u16 utf-8 | 119 u8 utf-8   atoms
//!   104 u8 arity | 105 u32 arity                                      tuples
//!   106 | 107 u16 bytes | 108 u32 n elements tail                     lists
//!   109 u32 bytes | 77 u32 bits bytes | 116 u32 pairs                 binaries, maps
//! ```
//! Decoding accepts every variant above, a zero-length LIST_EXT and
//! trailing bytes after the term (as `binary_to_term` does). Encoding is
//! what Erlang/OTP 25 wrote: ATOM_EXT for latin-1 atoms, the smallest
//! integer tag, STRING_EXT for short lists of bytes. Depth and sizes are
//! limited before anything is allocated.
//!
//! Written here rather than taken from `eetf`: eetf encodes atoms as
//! SMALL_ATOM_UTF8_EXT (119), which the older NYNJA clients cannot read
//! (docs/decisions.md).

#[cfg(test)]
mod tests;

/// One Erlang term.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    Atom(String),
    Int(i64),
    /// An integer beyond i64: sign and little-endian magnitude.
    BigInt {
        negative: bool,
        magnitude: Vec<u8>,
    },
    Float(f64),
    Binary(Vec<u8>),
    /// A bitstring whose last byte holds `bits` bits.
    BitBinary {
        bits: u8,
        data: Vec<u8>,
    },
    Tuple(Vec<Term>),
    /// A proper list; `[]` is the empty list.
    List(Vec<Term>),
    ImproperList(Vec<Term>, Box<Term>),
    Map(Vec<(Term, Term)>),
}

/// Limits checked while decoding.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_depth: usize,
    /// Most elements (tuple, list, map) in one term, all levels together.
    pub max_elements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_elements: 100_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EtfError {
    #[error("not an external term (no version byte 131)")]
    NoVersion,
    #[error("the term ends early")]
    Truncated,
    #[error("unknown tag {0}")]
    UnknownTag(u8),
    #[error("nested deeper than {0}")]
    TooDeep(usize),
    #[error("more than {0} elements")]
    TooBig(usize),
    #[error("an atom that is not valid text")]
    BadAtom,
    #[error("a float that is not a number")]
    BadFloat,
}

pub const VERSION: u8 = 131;

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    limits: Limits,
    elements: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EtfError> {
        let end = self.pos.checked_add(n).ok_or(EtfError::Truncated)?;
        let s = self.data.get(self.pos..end).ok_or(EtfError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, EtfError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<usize, EtfError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]) as usize)
    }

    fn u32(&mut self) -> Result<usize, EtfError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    /// Accounts for `n` elements about to be read; each needs at least one
    /// byte, so a count beyond the input is refused before allocating.
    fn count(&mut self, n: usize) -> Result<(), EtfError> {
        self.elements = self.elements.saturating_add(n);
        if self.elements > self.limits.max_elements {
            return Err(EtfError::TooBig(self.limits.max_elements));
        }
        if n > self.data.len() - self.pos {
            return Err(EtfError::Truncated);
        }
        Ok(())
    }

    fn latin1(bytes: &[u8]) -> String {
        bytes.iter().map(|&b| b as char).collect()
    }

    fn utf8(bytes: &[u8]) -> Result<String, EtfError> {
        String::from_utf8(bytes.to_vec()).map_err(|_| EtfError::BadAtom)
    }

    fn big(&mut self, n: usize) -> Result<Term, EtfError> {
        let negative = self.u8()? != 0;
        let magnitude = self.take(n)?;
        let significant = magnitude.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1);
        if significant <= 8 {
            let mut v: u64 = 0;
            for (i, b) in magnitude[..significant].iter().enumerate() {
                v |= (*b as u64) << (8 * i);
            }
            let fits = if negative {
                v <= i64::MAX as u64 + 1
            } else {
                v <= i64::MAX as u64
            };
            if fits {
                let n = if negative {
                    (v as i64).wrapping_neg()
                } else {
                    v as i64
                };
                return Ok(Term::Int(n));
            }
        }
        Ok(Term::BigInt {
            negative,
            magnitude: magnitude[..significant].to_vec(),
        })
    }

    fn term(&mut self, depth: usize) -> Result<Term, EtfError> {
        if depth > self.limits.max_depth {
            return Err(EtfError::TooDeep(self.limits.max_depth));
        }
        let tag = self.u8()?;
        Ok(match tag {
            97 => Term::Int(self.u8()? as i64),
            98 => {
                let b = self.take(4)?;
                Term::Int(i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as i64)
            }
            110 => {
                let n = self.u8()? as usize;
                self.big(n)?
            }
            111 => {
                let n = self.u32()?;
                self.big(n)?
            }
            70 => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Term::Float(f64::from_be_bytes(a))
            }
            99 => {
                let b = self.take(31)?;
                let s = std::str::from_utf8(b).map_err(|_| EtfError::BadFloat)?;
                let s = s.trim_end_matches('\0');
                Term::Float(s.trim().parse().map_err(|_| EtfError::BadFloat)?)
            }
            100 => {
                let n = self.u16()?;
                Term::Atom(Self::latin1(self.take(n)?))
            }
            115 => {
                let n = self.u8()? as usize;
                Term::Atom(Self::latin1(self.take(n)?))
            }
            118 => {
                let n = self.u16()?;
                Term::Atom(Self::utf8(self.take(n)?)?)
            }
            119 => {
                let n = self.u8()? as usize;
                Term::Atom(Self::utf8(self.take(n)?)?)
            }
            104 | 105 => {
                let n = if tag == 104 {
                    self.u8()? as usize
                } else {
                    self.u32()?
                };
                self.count(n)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.term(depth + 1)?);
                }
                Term::Tuple(items)
            }
            106 => Term::List(Vec::new()),
            107 => {
                let n = self.u16()?;
                self.count(n)?;
                Term::List(self.take(n)?.iter().map(|b| Term::Int(*b as i64)).collect())
            }
            108 => {
                let n = self.u32()?;
                self.count(n)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.term(depth + 1)?);
                }
                match self.term(depth + 1)? {
                    Term::List(rest) if rest.is_empty() => Term::List(items),
                    tail => Term::ImproperList(items, Box::new(tail)),
                }
            }
            109 => {
                let n = self.u32()?;
                Term::Binary(self.take(n)?.to_vec())
            }
            77 => {
                let n = self.u32()?;
                let bits = self.u8()?;
                Term::BitBinary {
                    bits,
                    data: self.take(n)?.to_vec(),
                }
            }
            116 => {
                let n = self.u32()?;
                self.count(n.saturating_mul(2))?;
                let mut pairs = Vec::with_capacity(n);
                for _ in 0..n {
                    let k = self.term(depth + 1)?;
                    let v = self.term(depth + 1)?;
                    pairs.push((k, v));
                }
                Term::Map(pairs)
            }
            other => return Err(EtfError::UnknownTag(other)),
        })
    }
}

/// Decodes `131, term`; bytes after the term are ignored.
pub fn decode(data: &[u8], limits: Limits) -> Result<Term, EtfError> {
    if data.first() != Some(&VERSION) {
        return Err(EtfError::NoVersion);
    }
    let mut r = Reader {
        data,
        pos: 1,
        limits,
        elements: 0,
    };
    r.term(0)
}

/// `term_to_binary(Term)` as Erlang/OTP 25 wrote it.
pub fn encode(term: &Term) -> Vec<u8> {
    let mut out = vec![VERSION];
    write(term, &mut out);
    out
}

fn write_len32(n: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&(n as u32).to_be_bytes());
}

fn write(term: &Term, out: &mut Vec<u8>) {
    match term {
        Term::Atom(a) => {
            if a.chars().all(|c| (c as u32) < 256) {
                let bytes: Vec<u8> = a.chars().map(|c| c as u8).collect();
                out.push(100);
                out.extend_from_slice(&(bytes.len().min(u16::MAX as usize) as u16).to_be_bytes());
                out.extend_from_slice(&bytes[..bytes.len().min(u16::MAX as usize)]);
            } else if a.len() < 256 {
                out.push(119);
                out.push(a.len() as u8);
                out.extend_from_slice(a.as_bytes());
            } else {
                out.push(118);
                out.extend_from_slice(&(a.len().min(u16::MAX as usize) as u16).to_be_bytes());
                out.extend_from_slice(&a.as_bytes()[..a.len().min(u16::MAX as usize)]);
            }
        }
        Term::Int(n) if (0..=255).contains(n) => {
            out.push(97);
            out.push(*n as u8);
        }
        Term::Int(n) if i32::try_from(*n).is_ok() => {
            out.push(98);
            out.extend_from_slice(&(*n as i32).to_be_bytes());
        }
        Term::Int(n) => {
            let magnitude = n.unsigned_abs().to_le_bytes();
            let len = magnitude.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1);
            out.push(110);
            out.push(len as u8);
            out.push(u8::from(*n < 0));
            out.extend_from_slice(&magnitude[..len]);
        }
        Term::BigInt {
            negative,
            magnitude,
        } => {
            if magnitude.len() < 256 {
                out.push(110);
                out.push(magnitude.len() as u8);
            } else {
                out.push(111);
                write_len32(magnitude.len(), out);
            }
            out.push(u8::from(*negative));
            out.extend_from_slice(magnitude);
        }
        Term::Float(f) => {
            out.push(70);
            out.extend_from_slice(&f.to_be_bytes());
        }
        Term::Binary(b) => {
            out.push(109);
            write_len32(b.len(), out);
            out.extend_from_slice(b);
        }
        Term::BitBinary { bits, data } => {
            out.push(77);
            write_len32(data.len(), out);
            out.push(*bits);
            out.extend_from_slice(data);
        }
        Term::Tuple(items) => {
            if items.len() < 256 {
                out.push(104);
                out.push(items.len() as u8);
            } else {
                out.push(105);
                write_len32(items.len(), out);
            }
            for t in items {
                write(t, out);
            }
        }
        Term::List(items) if items.is_empty() => out.push(106),
        Term::List(items) => {
            let bytes: Option<Vec<u8>> = items
                .iter()
                .map(|t| match t {
                    Term::Int(n) => u8::try_from(*n).ok(),
                    _ => None,
                })
                .collect();
            match bytes {
                Some(b) if b.len() <= u16::MAX as usize => {
                    out.push(107);
                    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
                    out.extend_from_slice(&b);
                }
                _ => {
                    out.push(108);
                    write_len32(items.len(), out);
                    for t in items {
                        write(t, out);
                    }
                    out.push(106);
                }
            }
        }
        Term::ImproperList(items, tail) => {
            out.push(108);
            write_len32(items.len(), out);
            for t in items {
                write(t, out);
            }
            write(tail, out);
        }
        Term::Map(pairs) => {
            out.push(116);
            write_len32(pairs.len(), out);
            for (k, v) in pairs {
                write(k, out);
                write(v, out);
            }
        }
    }
}

impl Term {
    pub fn atom(a: &str) -> Term {
        Term::Atom(a.to_string())
    }

    pub fn bin(s: impl AsRef<[u8]>) -> Term {
        Term::Binary(s.as_ref().to_vec())
    }

    pub fn nil() -> Term {
        Term::List(Vec::new())
    }

    pub fn tuple(items: impl IntoIterator<Item = Term>) -> Term {
        Term::Tuple(items.into_iter().collect())
    }

    /// `{Name, fields...}`.
    pub fn record(name: &str, fields: impl IntoIterator<Item = Term>) -> Term {
        let mut items = vec![Term::atom(name)];
        items.extend(fields);
        Term::Tuple(items)
    }

    pub fn as_atom(&self) -> Option<&str> {
        match self {
            Term::Atom(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Term::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_binary(&self) -> Option<&[u8]> {
        match self {
            Term::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// A binary as text (lossy), or None.
    pub fn as_text(&self) -> Option<String> {
        self.as_binary()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    pub fn as_list(&self) -> Option<&[Term]> {
        match self {
            Term::List(l) => Some(l),
            _ => None,
        }
    }

    /// `[]` (Erlang's "unset").
    pub fn is_nil(&self) -> bool {
        matches!(self, Term::List(l) if l.is_empty())
    }

    /// The fields of a record named `name` (the tuple without its tag).
    pub fn record_fields(&self, name: &str) -> Option<&[Term]> {
        match self {
            Term::Tuple(items) if items.first().and_then(Term::as_atom) == Some(name) => {
                Some(&items[1..])
            }
            _ => None,
        }
    }

    /// The record tag, if this is a tuple whose first element is an atom.
    pub fn record_name(&self) -> Option<&str> {
        match self {
            Term::Tuple(items) => items.first().and_then(Term::as_atom),
            _ => None,
        }
    }
}
