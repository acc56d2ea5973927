//! The path side of the filter: the JSONPath dialect of Neo's reference oracle nodes (neo-go's
//! `pkg/services/oracle/jsonpath`, itself a port of C# Neo's `JPath`), parsed into segments and
//! evaluated over a [`Doc`] with the same depth budget and object limit.
//!
//! Grammar (no whitespace anywhere; see `docs/oracle.md`):
//!
//! ```text
//! path     = "$" *segment
//! segment  = "." ident | ".*" | ".." ident
//!          | "[*]" | "[" index *("," index) "]" | "[" name *("," name) "]"
//!          | "[" [index] ":" [index] "]"
//! ident    = [A-Za-z_][A-Za-z0-9_]*
//! index    = ["-"] *DIGIT            a 32-bit signed integer
//! name     = "'" *(any but "'") "'"  read as the body of a JSON string ("\u00e9", "\"")
//! ```
//!
//! Evaluation keeps a list of selected values (never more than [`MAX_FILTER_MATCHES`]) and a
//! depth budget of [`MAX_FILTER_DEPTH`]: every segment spends one level, `..name` spends one per
//! level of the document it walks through (it stops, without an error, when the budget or the
//! object limit runs out). Anything else (a bad token, an integer beyond 32 bits, a spent budget,
//! more than 1,024 values at any step) fails the whole filter.

use super::json::{Doc, Node, NodeId, unescape};
use super::{FilterError, MAX_FILTER_DEPTH, MAX_FILTER_MATCHES};

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    /// `.*` or `[*]`: array items and object member values.
    Wildcard,
    /// `..name`: members called `name` at every level, level by level.
    Descendant(String),
    /// `.name`, `['a']`, `['a','b']`: members by name (the first member of that name).
    Names(Vec<String>),
    /// `[0]`, `[-1]`, `[0,2]`: array items by index, negative from the end.
    Indices(Vec<i32>),
    /// `[start:end]`: `end` 0 (or absent) means the end of the array.
    Slice(i32, i32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    Invalid,
    Root,
    Dot,
    LeftBracket,
    RightBracket,
    Asterisk,
    Comma,
    Colon,
    Ident(&'a str),
    /// A quoted name with its quotes.
    Str(&'a str),
    Number(&'a str),
}

struct Lexer<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Lexer<'a> {
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn next(&mut self) -> Token<'a> {
        let b = self.s.as_bytes();
        let Some(&c) = b.get(self.i) else {
            return Token::Invalid;
        };
        let start = self.i;
        let (tok, len) = match c {
            b'$' => (Token::Root, 1),
            b'.' => (Token::Dot, 1),
            b'[' => (Token::LeftBracket, 1),
            b']' => (Token::RightBracket, 1),
            b'*' => (Token::Asterisk, 1),
            b',' => (Token::Comma, 1),
            b':' => (Token::Colon, 1),
            b'\'' => match b[start + 1..].iter().position(|&c| c == b'\'') {
                Some(p) => {
                    let end = start + 1 + p + 1;
                    (Token::Str(&self.s[start..end]), end - start)
                }
                None => return Token::Invalid,
            },
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                let n = 1 + b[start + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count();
                (Token::Ident(&self.s[start..start + n]), n)
            }
            b'-' | b'0'..=b'9' => {
                let n = 1 + b[start + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                (Token::Number(&self.s[start..start + n]), n)
            }
            _ => return Token::Invalid,
        };
        self.i += len;
        tok
    }
}

fn invalid(filter: &str, why: &str) -> FilterError {
    FilterError::InvalidPath(format!("{why} in {filter:?}"))
}

/// A 32-bit index (Go's `strconv.ParseInt(s, 10, 32)`).
fn int32(filter: &str, s: &str) -> Result<i32, FilterError> {
    s.parse::<i32>()
        .map_err(|_| invalid(filter, "index is not a 32-bit integer"))
}

/// The name inside `'...'`, read as a JSON string body.
fn name(filter: &str, quoted: &str) -> Result<String, FilterError> {
    let inner = quoted.trim_matches('\'');
    let bytes = inner.as_bytes();
    // Go's `json.Unmarshal` of `"` + inner + `"`: the whole input must be one JSON string.
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return Err(invalid(filter, "unescaped '\"' in a quoted name")),
            c if c < 0x20 => return Err(invalid(filter, "control character in a quoted name")),
            b'\\' => {
                match bytes.get(i + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                    Some(b'u')
                        if bytes
                            .get(i + 2..i + 6)
                            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
                    {
                        i += 6
                    }
                    _ => return Err(invalid(filter, "bad escape in a quoted name")),
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    unescape(bytes).ok_or_else(|| invalid(filter, "bad escape in a quoted name"))
}

/// Parse a non-empty filter into its segments.
pub(super) fn parse(filter: &str) -> Result<Vec<Segment>, FilterError> {
    let mut lx = Lexer { s: filter, i: 0 };
    if lx.next() != Token::Root {
        return Err(invalid(filter, "a path starts with '$'"));
    }
    let mut segments = Vec::new();
    while !lx.at_end() {
        let seg = match lx.next() {
            Token::Dot => match lx.next() {
                Token::Asterisk => Segment::Wildcard,
                Token::Dot => match lx.next() {
                    Token::Ident(id) => Segment::Descendant(id.to_owned()),
                    _ => return Err(invalid(filter, "'..' must be followed by a name")),
                },
                Token::Ident(id) => Segment::Names(vec![id.to_owned()]),
                _ => {
                    return Err(invalid(
                        filter,
                        "'.' must be followed by a name, '*' or '.'",
                    ));
                }
            },
            Token::LeftBracket => bracket(filter, &mut lx)?,
            _ => return Err(invalid(filter, "unexpected character")),
        };
        segments.push(seg);
    }
    Ok(segments)
}

fn bracket(filter: &str, lx: &mut Lexer<'_>) -> Result<Segment, FilterError> {
    match lx.next() {
        Token::Asterisk => match lx.next() {
            Token::RightBracket => Ok(Segment::Wildcard),
            _ => Err(invalid(filter, "'[*' must be followed by ']'")),
        },
        Token::Colon => slice(filter, lx, 0),
        Token::Number(n) => match lx.next() {
            Token::Colon => slice(filter, lx, int32(filter, n)?),
            Token::Comma => {
                let items = union(filter, lx, Token::Number(n))?;
                Ok(Segment::Indices(
                    items
                        .iter()
                        .map(|s| int32(filter, s))
                        .collect::<Result<_, _>>()?,
                ))
            }
            Token::RightBracket => Ok(Segment::Indices(vec![int32(filter, n)?])),
            _ => Err(invalid(filter, "bad index")),
        },
        Token::Str(s) => match lx.next() {
            Token::Comma => {
                let items = union(filter, lx, Token::Str(s))?;
                Ok(Segment::Names(
                    items
                        .iter()
                        .map(|s| name(filter, s))
                        .collect::<Result<_, _>>()?,
                ))
            }
            Token::RightBracket => Ok(Segment::Names(vec![name(filter, s)?])),
            _ => Err(invalid(filter, "bad quoted name")),
        },
        _ => Err(invalid(
            filter,
            "'[' must be followed by '*', ':', an index or a name",
        )),
    }
}

/// The rest of `[first,...]`: items of the same kind as `first` separated by commas.
fn union<'a>(
    filter: &str,
    lx: &mut Lexer<'a>,
    first: Token<'a>,
) -> Result<Vec<&'a str>, FilterError> {
    let text = |t: &Token<'a>| match *t {
        Token::Number(s) | Token::Str(s) => Some(s),
        _ => None,
    };
    let mut items = vec![text(&first).unwrap_or_default()];
    loop {
        let tok = lx.next();
        if std::mem::discriminant(&tok) != std::mem::discriminant(&first) {
            return Err(invalid(filter, "a union mixes indexes and names"));
        }
        items.push(text(&tok).unwrap_or_default());
        match lx.next() {
            Token::RightBracket => return Ok(items),
            Token::Comma => {}
            _ => return Err(invalid(filter, "bad union")),
        }
    }
}

fn slice(filter: &str, lx: &mut Lexer<'_>, start: i32) -> Result<Segment, FilterError> {
    match lx.next() {
        Token::Number(n) => match lx.next() {
            Token::RightBracket => Ok(Segment::Slice(start, int32(filter, n)?)),
            _ => Err(invalid(filter, "a slice ends with ']'")),
        },
        Token::RightBracket => Ok(Segment::Slice(start, 0)),
        _ => Err(invalid(filter, "bad slice")),
    }
}

/// Evaluation state: the document, the depth budget and the cancel check.
pub(super) struct Eval<'d> {
    doc: &'d Doc,
    depth: usize,
    cancelled: &'d dyn Fn() -> bool,
}

type Step = Result<Vec<NodeId>, FilterError>;

impl<'d> Eval<'d> {
    pub(super) fn new(doc: &'d Doc, cancelled: &'d dyn Fn() -> bool) -> Self {
        Self {
            doc,
            depth: MAX_FILTER_DEPTH,
            cancelled,
        }
    }

    /// Apply `segments` to the document root: the selected values, in order.
    pub(super) fn run(&mut self, segments: &[Segment]) -> Step {
        let mut objs = vec![self.doc.root()];
        for seg in segments {
            if (self.cancelled)() {
                return Err(FilterError::Cancelled);
            }
            objs = match seg {
                Segment::Wildcard => self.descend(&objs)?,
                Segment::Descendant(name) => self.descendant(objs, name)?,
                Segment::Names(names) => self.by_names(&objs, names, true)?,
                Segment::Indices(indices) => self.by_indices(&objs, indices)?,
                Segment::Slice(start, end) => self.by_range(&objs, *start, *end)?,
            };
            if objs.len() > MAX_FILTER_MATCHES {
                return Err(FilterError::TooManyMatches);
            }
        }
        Ok(objs)
    }

    fn spend_level(&mut self) -> Result<(), FilterError> {
        if self.depth == 0 {
            return Err(FilterError::TooDeep);
        }
        self.depth -= 1;
        Ok(())
    }

    fn room(values: &[NodeId], more: usize) -> Result<(), FilterError> {
        if values.len() + more > MAX_FILTER_MATCHES {
            return Err(FilterError::TooManyMatches);
        }
        Ok(())
    }

    /// One level down: array items and object member values; scalars drop out.
    fn descend(&mut self, objs: &[NodeId]) -> Step {
        self.spend_level()?;
        let mut values = Vec::new();
        for &id in objs {
            match self.doc.node(id) {
                Node::Array(items) => {
                    Self::room(&values, items.len())?;
                    values.extend_from_slice(items);
                }
                Node::Object(members) => {
                    Self::room(&values, members.len())?;
                    values.extend(members.iter().map(|(_, v)| *v));
                }
                _ => {}
            }
        }
        Ok(values)
    }

    /// `..name`: level by level, the members called `name`, then one level down, until nothing
    /// is left, the depth budget is spent or a level has more than the object limit (the last
    /// two end the walk quietly, as in neo-go).
    fn descendant(&mut self, mut objs: Vec<NodeId>, name: &str) -> Step {
        let names = [name.to_owned()];
        let mut values = Vec::new();
        while !objs.is_empty() {
            if (self.cancelled)() {
                return Err(FilterError::Cancelled);
            }
            let found = self.by_names(&objs, &names, false).unwrap_or_default();
            Self::room(&values, found.len())?;
            values.extend(found);
            objs = self.descend(&objs).unwrap_or_default();
        }
        Ok(values)
    }

    /// Members by name: per object, for each name, its first member of that name.
    fn by_names(&mut self, objs: &[NodeId], names: &[String], spend: bool) -> Step {
        if spend {
            self.spend_level()?;
        }
        let mut values = Vec::new();
        for &id in objs {
            let Node::Object(members) = self.doc.node(id) else {
                continue;
            };
            for name in names {
                if let Some((_, v)) = members.iter().find(|(k, _)| k == name) {
                    Self::room(&values, 1)?;
                    values.push(*v);
                }
            }
        }
        Ok(values)
    }

    /// Array items by index; negative indexes count from the end; out of range selects nothing.
    fn by_indices(&mut self, objs: &[NodeId], indices: &[i32]) -> Step {
        self.spend_level()?;
        let mut values = Vec::new();
        for &id in objs {
            let Node::Array(items) = self.doc.node(id) else {
                continue;
            };
            let len = items.len() as i64;
            for &j in indices {
                let j = if j < 0 {
                    i64::from(j) + len
                } else {
                    i64::from(j)
                };
                if (0..len).contains(&j) {
                    Self::room(&values, 1)?;
                    values.push(items[j as usize]);
                }
            }
        }
        Ok(values)
    }

    /// `[start:end]` of every array: negative bounds count from the end, `end <= 0` is relative
    /// to the end (so `[1:0]` is `[1:]`), `end` is clamped to the length, empty ranges select
    /// nothing. A start before the beginning of the array (`[-10:]` on 3 items) fails the filter
    /// (neo-go 0.120.0 panics there).
    fn by_range(&mut self, objs: &[NodeId], start: i32, end: i32) -> Step {
        self.spend_level()?;
        let mut values = Vec::new();
        for &id in objs {
            let Node::Array(items) = self.doc.node(id) else {
                continue;
            };
            let len = items.len() as i64;
            let sub_start = if start < 0 {
                i64::from(start) + len
            } else {
                i64::from(start)
            };
            let sub_end = if end <= 0 {
                i64::from(end) + len
            } else {
                i64::from(end)
            }
            .min(len);
            if sub_end <= sub_start {
                continue;
            }
            Self::room(&values, (sub_end - sub_start) as usize)?;
            if sub_start < 0 {
                return Err(FilterError::SliceBeforeStart);
            }
            values.extend_from_slice(&items[sub_start as usize..sub_end as usize]);
        }
        Ok(values)
    }
}
