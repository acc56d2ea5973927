//! The JSON side of the filter: a document parser that accepts what neo-go's oracle accepts
//! (`go-ordered-json`'s `Decoder.Decode` into an ordered object), and the writer that prints
//! values as neo-go's `json.Marshal` does.
//!
//! The document lives in an arena ([`Doc`]): every value is a [`Node`] in one `Vec`, containers
//! hold the indexes of their children. Parsing, writing and dropping are loops, not recursion, so a
//! 64 KB body nested 32,000 levels deep (which Go decodes) cannot overflow a thread's stack.
//!
//! Decoder rules (Go's `encoding/json` scanner as forked by go-ordered-json):
//! - the first JSON value of the body is decoded, anything after it is ignored (`{"a":1} x` and
//!   `12abc` decode; a top-level number ends at the first byte that cannot continue it, so `012`
//!   is `0`);
//! - whitespace is space, tab, CR, LF only; no nesting limit;
//! - numbers follow the JSON grammar and become doubles, correctly rounded; a number beyond the
//!   double range (`1e400`) fails the whole body, one that underflows becomes `0`;
//! - strings: raw bytes below 0x20 are refused; `\uXXXX` escapes that are not a valid UTF-16 pair
//!   become U+FFFD (the following escape is read on its own);
//! - objects keep every member in document order, duplicate keys included.

/// Index of a node in a [`Doc`].
pub(super) type NodeId = u32;

/// One JSON value; containers refer to their children by index.
#[derive(Debug)]
pub(super) enum Node {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<NodeId>),
    Object(Vec<(String, NodeId)>),
}

/// A parsed JSON document.
#[derive(Debug)]
pub(super) struct Doc {
    nodes: Vec<Node>,
    root: NodeId,
}

impl Doc {
    /// The top-level value.
    pub(super) fn root(&self) -> NodeId {
        self.root
    }

    /// The node at `id`.
    pub(super) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    /// Decode the first JSON value of `text` (see the module docs for the rules).
    pub(super) fn parse(text: &[u8]) -> Result<Self, String> {
        Parser {
            s: text,
            i: 0,
            nodes: Vec::new(),
        }
        .run()
    }
}

/// An open container while parsing.
enum Frame {
    Array(Vec<NodeId>),
    /// Members so far and the key of the member being parsed.
    Object(Vec<(String, NodeId)>, String),
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    nodes: Vec<Node>,
}

impl Parser<'_> {
    fn push(&mut self, node: Node) -> Result<NodeId, String> {
        let id = NodeId::try_from(self.nodes.len()).map_err(|_| "document too large".to_owned())?;
        self.nodes.push(node);
        Ok(id)
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        match self.peek() {
            Some(c) => Err(format!("invalid character {:?} {what}", char::from(c))),
            None => Err(format!("unexpected end of JSON input {what}")),
        }
    }

    fn expect(&mut self, c: u8, what: &str) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            self.err(what)
        }
    }

    fn run(mut self) -> Result<Doc, String> {
        let mut stack: Vec<Frame> = Vec::new();
        'value: loop {
            self.skip_ws();
            let mut id = match self.peek() {
                Some(b'{') => {
                    self.i += 1;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                        self.push(Node::Object(Vec::new()))?
                    } else {
                        let key = self.key()?;
                        stack.push(Frame::Object(Vec::new(), key));
                        continue 'value;
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.i += 1;
                        self.push(Node::Array(Vec::new()))?
                    } else {
                        stack.push(Frame::Array(Vec::new()));
                        continue 'value;
                    }
                }
                Some(b'"') => {
                    let s = self.string()?;
                    self.push(Node::String(s))?
                }
                Some(b't') => self.literal("true", Node::Bool(true))?,
                Some(b'f') => self.literal("false", Node::Bool(false))?,
                Some(b'n') => self.literal("null", Node::Null)?,
                Some(b'-' | b'0'..=b'9') => {
                    let f = self.number()?;
                    self.push(Node::Number(f))?
                }
                _ => return self.err("looking for beginning of value"),
            };
            // Attach the finished value to its container; close containers that end here.
            loop {
                match stack.last_mut() {
                    // The first value is complete: whatever follows is not read (Go's Decoder).
                    None => {
                        return Ok(Doc {
                            nodes: self.nodes,
                            root: id,
                        });
                    }
                    Some(Frame::Array(items)) => {
                        items.push(id);
                        self.skip_ws();
                        match self.peek() {
                            Some(b',') => {
                                self.i += 1;
                                continue 'value;
                            }
                            Some(b']') => {
                                self.i += 1;
                                let Some(Frame::Array(items)) = stack.pop() else {
                                    unreachable!("top frame is an array")
                                };
                                id = self.push(Node::Array(items))?;
                            }
                            _ => return self.err("after array element"),
                        }
                    }
                    Some(Frame::Object(members, key)) => {
                        members.push((std::mem::take(key), id));
                        self.skip_ws();
                        match self.peek() {
                            Some(b',') => {
                                self.i += 1;
                                self.skip_ws();
                                let next = self.key()?;
                                if let Some(Frame::Object(_, key)) = stack.last_mut() {
                                    *key = next;
                                }
                                continue 'value;
                            }
                            Some(b'}') => {
                                self.i += 1;
                                let Some(Frame::Object(members, _)) = stack.pop() else {
                                    unreachable!("top frame is an object")
                                };
                                id = self.push(Node::Object(members))?;
                            }
                            _ => return self.err("after object key:value pair"),
                        }
                    }
                }
            }
        }
    }

    /// An object key and its colon.
    fn key(&mut self) -> Result<String, String> {
        if self.peek() != Some(b'"') {
            return self.err("looking for beginning of object key string");
        }
        let key = self.string()?;
        self.skip_ws();
        self.expect(b':', "after object key")?;
        Ok(key)
    }

    fn literal(&mut self, word: &str, node: Node) -> Result<NodeId, String> {
        let end = self.i + word.len();
        if self.s.get(self.i..end) != Some(word.as_bytes()) {
            // Point at the first byte that differs, like Go's scanner.
            while self
                .s
                .get(self.i)
                .is_some_and(|&c| word.as_bytes().contains(&c))
            {
                self.i += 1;
            }
            return self.err("in literal");
        }
        self.i = end;
        self.push(node)
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?` as a correctly rounded double.
    fn number(&mut self) -> Result<f64, String> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return self.err("in numeric literal"),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return self.err("after decimal point in numeric literal");
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return self.err("in exponent of numeric literal");
            }
        }
        // The grammar above is ASCII, so the slice is UTF-8 and parses.
        let text = std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?;
        let f: f64 = text.parse().map_err(|e| format!("number {text}: {e}"))?;
        if f.is_infinite() {
            return Err(format!("number {text} is out of the double range"));
        }
        Ok(f)
    }

    /// A string starting at the opening quote, unescaped.
    fn string(&mut self) -> Result<String, String> {
        self.i += 1;
        let start = self.i;
        // Scan first (validity), then unescape the raw bytes.
        loop {
            match self.peek() {
                None => return self.err("in string literal"),
                Some(b'"') => break,
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            self.i += 1;
                            for _ in 0..4 {
                                if !self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                                    return self.err("in \\u hexadecimal character escape");
                                }
                                self.i += 1;
                            }
                        }
                        _ => return self.err("in string escape code"),
                    }
                }
                Some(c) if c < 0x20 => return self.err("in string literal"),
                Some(_) => self.i += 1,
            }
        }
        let raw = &self.s[start..self.i];
        self.i += 1;
        unescape(raw).ok_or_else(|| "invalid string".to_owned())
    }
}

/// Unescape the bytes between the quotes of a JSON string whose syntax was checked; `None` if the
/// result is not UTF-8 (cannot happen for a UTF-8 body) or an escape is malformed.
pub(super) fn unescape(raw: &[u8]) -> Option<String> {
    if !raw.contains(&b'\\') {
        return String::from_utf8(raw.to_vec()).ok();
    }
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let start = i;
        while i < raw.len() && raw[i] != b'\\' {
            i += 1;
        }
        out.push_str(std::str::from_utf8(&raw[start..i]).ok()?);
        if i >= raw.len() {
            break;
        }
        let esc = *raw.get(i + 1)?;
        i += 2;
        match esc {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let unit = hex4(raw.get(i..i + 4)?)?;
                i += 4;
                if (0xD800..0xE000).contains(&unit) {
                    // A high surrogate followed by a `\u` low surrogate is one character;
                    // anything else is U+FFFD and the next escape is read on its own (Go).
                    let low = raw
                        .get(i..i + 2)
                        .filter(|p| *p == b"\\u")
                        .and_then(|_| raw.get(i + 2..i + 6))
                        .and_then(hex4);
                    match low {
                        Some(low) if unit < 0xDC00 && (0xDC00..0xE000).contains(&low) => {
                            let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                            out.push(char::from_u32(c)?);
                            i += 6;
                        }
                        _ => out.push('\u{FFFD}'),
                    }
                } else {
                    out.push(char::from_u32(unit)?);
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

fn hex4(b: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(b).ok()?;
    if s.len() != 4 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// Why writing stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WriteStop {
    /// The output grew past the limit.
    TooLarge,
    /// The caller's cancel flag was set.
    Cancelled,
}

/// Write `[v1,v2,...]` for `ids`, compactly, as neo-go's `json.Marshal` prints a `[]any` of
/// decoded values. Stops once the output exceeds `limit` bytes or `cancelled()` says so.
pub(super) fn write_array(
    doc: &Doc,
    ids: &[NodeId],
    limit: usize,
    cancelled: &dyn Fn() -> bool,
    out: &mut Vec<u8>,
) -> Result<(), WriteStop> {
    enum Work<'a> {
        Value(NodeId),
        Key(&'a str),
        Byte(u8),
    }
    let mut stack: Vec<Work<'_>> = vec![Work::Byte(b']')];
    for (n, id) in ids.iter().enumerate().rev() {
        stack.push(Work::Value(*id));
        if n > 0 {
            stack.push(Work::Byte(b','));
        }
    }
    out.push(b'[');
    let mut steps = 0u32;
    while let Some(work) = stack.pop() {
        steps = steps.wrapping_add(1);
        if steps.is_multiple_of(4096) && cancelled() {
            return Err(WriteStop::Cancelled);
        }
        if out.len() > limit {
            return Err(WriteStop::TooLarge);
        }
        match work {
            Work::Byte(b) => out.push(b),
            Work::Key(k) => {
                write_go_string(k, out);
                out.push(b':');
            }
            Work::Value(id) => match doc.node(id) {
                Node::Null => out.extend_from_slice(b"null"),
                Node::Bool(true) => out.extend_from_slice(b"true"),
                Node::Bool(false) => out.extend_from_slice(b"false"),
                Node::Number(f) => write_go_float(*f, out),
                Node::String(s) => write_go_string(s, out),
                Node::Array(items) => {
                    out.push(b'[');
                    stack.push(Work::Byte(b']'));
                    for (n, item) in items.iter().enumerate().rev() {
                        stack.push(Work::Value(*item));
                        if n > 0 {
                            stack.push(Work::Byte(b','));
                        }
                    }
                }
                Node::Object(members) => {
                    out.push(b'{');
                    stack.push(Work::Byte(b'}'));
                    for (n, (k, v)) in members.iter().enumerate().rev() {
                        stack.push(Work::Value(*v));
                        stack.push(Work::Key(k));
                        if n > 0 {
                            stack.push(Work::Byte(b','));
                        }
                    }
                }
            },
        }
    }
    if out.len() > limit {
        return Err(WriteStop::TooLarge);
    }
    Ok(())
}

/// A double as Go's `encoding/json` prints it: shortest round-trip digits, fixed notation for
/// `1e-6 <= |f| < 1e21` (and zero), otherwise exponent notation with a sign and at least one
/// exponent digit after the `e-0` clean-up (`1e+21`, `1e-7`, `1.5e+300`).
pub(super) fn write_go_float(f: f64, out: &mut Vec<u8>) {
    let abs = f.abs();
    if abs == 0.0 || (1e-6..1e21).contains(&abs) {
        // Rust's `Display` for f64 is the shortest round-trip representation in fixed notation.
        out.extend_from_slice(format!("{f}").as_bytes());
        return;
    }
    // `{:e}` gives the shortest round-trip mantissa and an unpadded exponent: `1e21`, `1.5e-7`.
    let s = format!("{f:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    out.extend_from_slice(mantissa.as_bytes());
    out.push(b'e');
    out.push(sign as u8);
    // Go pads the exponent to two digits, then strips the padding of negative exponents only.
    if digits.len() < 2 && sign == '+' {
        out.push(b'0');
    }
    out.extend_from_slice(digits.as_bytes());
}

/// A string as neo-go's JSON encoder (go-ordered-json) writes it; the escape set was measured on
/// neo-go 0.120.0's oracle service (see the `neo_go_oracle_outputs` test).
pub(super) fn write_go_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(b'"');
    for c in s.chars() {
        match c {
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '"' | '&' | '\'' | '+' | '<' | '>' | '`' | '\u{7f}' | '\0'..='\u{1f}' => {
                let b = c as u8;
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
            c if c.is_ascii() => out.push(c as u8),
            '\u{2028}' => out.extend_from_slice(b"\\u2028"),
            '\u{2029}' => out.extend_from_slice(b"\\u2029"),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.extend_from_slice(format!("\\u{unit:04X}").as_bytes());
                }
            }
        }
    }
    out.push(b'"');
}
