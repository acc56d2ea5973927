//! Stage 2 of an answer: the JSONPath filter.
//!
//! Neo's oracle filter semantics, with the path language of RFC 9535 (`serde_json_path`):
//!
//! - no filter (`None`) or an empty filter: the body is returned unchanged (C# Neo's
//!   `string.IsNullOrEmpty(filter)` rule; see `docs/oracle.md` for neo-go's divergence on `""`);
//! - otherwise the body must be UTF-8 JSON, the path is evaluated against it, and the result is
//!   the JSON array of every match, serialized compactly exactly as neo-go serializes it (its
//!   `go-ordered-json` encoder, which mirrors C# Neo's output):
//!   - object members keep the order they had in the body;
//!   - numbers are IEEE-754 doubles printed like Go's `encoding/json` (`50`, `99.95`, `1e+21`,
//!     `1e-7`): `1.0` in the body becomes `1`, integers beyond 2^53 lose precision;
//!   - strings escape `"` `&` `'` `+` `<` `>` `` ` ``, DEL and control characters as `\u00XX`
//!     (uppercase hex),
//!     `\\ \b \f \n \r \t` as themselves, U+2028/U+2029 as `\u2028`/`\u2029`, and every other
//!     non-ASCII character as `\uXXXX` (uppercase hex, UTF-16 surrogate pairs above U+FFFF);
//! - a path that matches nothing gives `[]`;
//! - a path that does not parse, a filter longer than [`MAX_FILTER_LEN`] bytes, a body that is not
//!   UTF-8 JSON, or more than [`MAX_FILTER_MATCHES`] matches are errors (response code `Error`).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json_path::{JsonPath, PathElement};

/// Longest filter the native OracleContract accepts, in bytes.
pub const MAX_FILTER_LEN: usize = 128;

/// Most values a filter may select (neo-go's `maxObjects`): more is an error, so that a short path
/// cannot multiply a response.
pub const MAX_FILTER_MATCHES: usize = 1024;

/// Why a filter could not be applied. Every variant is answered with response code `Error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The filter is longer than [`MAX_FILTER_LEN`] bytes.
    #[error("filter is {len} bytes long, at most {MAX_FILTER_LEN} are allowed")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The filter is not an RFC 9535 JSONPath query.
    #[error("invalid JSONPath filter: {0}")]
    InvalidPath(String),
    /// The body is not UTF-8.
    #[error("response body is not UTF-8")]
    NotUtf8,
    /// The body is not a JSON document.
    #[error("response body is not JSON: {0}")]
    NotJson(String),
    /// The filter selects more than [`MAX_FILTER_MATCHES`] values.
    #[error("filter selects {0} values, at most {MAX_FILTER_MATCHES} are allowed")]
    TooManyMatches(usize),
}

/// A parsed, length-checked filter.
#[derive(Debug, Clone)]
pub struct Filter {
    path: JsonPath,
}

impl Filter {
    /// Parse `filter` (non-empty) as an RFC 9535 JSONPath query of at most [`MAX_FILTER_LEN`] bytes.
    pub fn parse(filter: &str) -> Result<Self, FilterError> {
        if filter.len() > MAX_FILTER_LEN {
            return Err(FilterError::TooLong { len: filter.len() });
        }
        let path = JsonPath::parse(filter).map_err(|e| FilterError::InvalidPath(e.to_string()))?;
        Ok(Self { path })
    }

    /// Apply the filter to a JSON `body`: the compact JSON array of the matches (see the module
    /// docs for the exact serialization).
    pub fn apply(&self, body: &[u8]) -> Result<Vec<u8>, FilterError> {
        let text = std::str::from_utf8(body).map_err(|_| FilterError::NotUtf8)?;
        // Parsed twice: `Value` for the query, `Ordered` for the output (serde_json's `Value`
        // sorts object keys; neo-go keeps document order).
        let value: Value =
            serde_json::from_str(text).map_err(|e| FilterError::NotJson(e.to_string()))?;
        let ordered: Ordered =
            serde_json::from_str(text).map_err(|e| FilterError::NotJson(e.to_string()))?;
        let located = self.path.query_located(&value);
        if located.len() > MAX_FILTER_MATCHES {
            return Err(FilterError::TooManyMatches(located.len()));
        }
        let mut out = Vec::with_capacity(64);
        out.push(b'[');
        for (i, node) in located.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match ordered.at(node.location().iter()) {
                Some(found) => found.write(&mut out),
                // Cannot happen (both trees come from the same text); fall back to the query's node.
                None => Ordered::from_value(node.node()).write(&mut out),
            }
        }
        out.push(b']');
        Ok(out)
    }
}

/// Apply Neo's filter rule: `None` or `""` returns `body` unchanged, anything else is parsed as a
/// JSONPath and applied with [`Filter::apply`].
pub fn apply_filter(body: &[u8], filter: Option<&str>) -> Result<Vec<u8>, FilterError> {
    match filter {
        None | Some("") => Ok(body.to_vec()),
        Some(f) => Filter::parse(f)?.apply(body),
    }
}

/// Check a filter without a body (length and syntax). `None` and `""` are valid.
pub fn validate_filter(filter: Option<&str>) -> Result<(), FilterError> {
    match filter {
        None | Some("") => Ok(()),
        Some(f) => Filter::parse(f).map(|_| ()),
    }
}

/// A JSON value that keeps object members in document order, numbers as doubles (as neo-go).
#[derive(Debug, Clone, PartialEq)]
enum Ordered {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

impl Ordered {
    fn from_value(v: &Value) -> Self {
        match v {
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => Self::Number(n.as_f64().unwrap_or(0.0)),
            Value::String(s) => Self::String(s.clone()),
            Value::Array(a) => Self::Array(a.iter().map(Self::from_value).collect()),
            Value::Object(o) => Self::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), Self::from_value(v)))
                    .collect(),
            ),
        }
    }

    /// The node at a normalized path. A repeated key resolves to its last occurrence, as in
    /// serde_json's `Value`, which the query ran on.
    fn at<'p, I>(&self, path: I) -> Option<&Self>
    where
        I: IntoIterator<Item = &'p PathElement<'p>>,
    {
        let mut cur = self;
        for el in path {
            cur = match (el, cur) {
                (PathElement::Name(name), Self::Object(members)) => members
                    .iter()
                    .rev()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v)?,
                (PathElement::Index(i), Self::Array(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Self::Null => out.extend_from_slice(b"null"),
            Self::Bool(true) => out.extend_from_slice(b"true"),
            Self::Bool(false) => out.extend_from_slice(b"false"),
            Self::Number(f) => write_go_float(*f, out),
            Self::String(s) => write_go_string(s, out),
            Self::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write(out);
                }
                out.push(b']');
            }
            Self::Object(members) => {
                out.push(b'{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_go_string(k, out);
                    out.push(b':');
                    v.write(out);
                }
                out.push(b'}');
            }
        }
    }
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OrderedVisitor)
    }
}

struct OrderedVisitor;

impl<'de> Visitor<'de> for OrderedVisitor {
    type Value = Ordered;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Ordered, E> {
        Ok(Ordered::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Ordered, E> {
        Ok(Ordered::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Ordered, E> {
        Ok(Ordered::Number(v as f64))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ordered, E> {
        Ok(Ordered::Number(v as f64))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Ordered, E> {
        Ok(Ordered::Number(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Ordered, E> {
        Ok(Ordered::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Ordered, E> {
        Ok(Ordered::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Ordered::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
        let mut members = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Ordered>()? {
            members.push((k, v));
        }
        Ok(Ordered::Object(members))
    }
}

/// A double as Go's `encoding/json` prints it: shortest round-trip digits, fixed notation for
/// `1e-6 <= |f| < 1e21` (and zero), otherwise exponent notation with a sign and at least one
/// exponent digit after the `e-0` clean-up (`1e+21`, `1e-7`, `1.5e+300`).
fn write_go_float(f: f64, out: &mut Vec<u8>) {
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
fn write_go_string(s: &str, out: &mut Vec<u8>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The document of neo-go's `pkg/services/oracle/filter_test.go` (`TestFilter`).
    const NEOGO_DOC: &str = r#"{
      "Stores": [ "Lambton Quay", "Willis Street" ],
      "Manufacturers": [
        { "Name": "Acme Co", "Products": [ { "Name": "Anvil", "Price": 50 } ] },
        { "Name": "Contoso", "Products": [
            { "Name": "Elbow Grease", "Price": 99.95 },
            { "Name": "Headlight Fluid", "Price": 4 } ] }
      ]
    }"#;

    fn run(body: &str, path: &str) -> String {
        String::from_utf8(apply_filter(body.as_bytes(), Some(path)).unwrap()).unwrap()
    }

    #[test]
    fn neo_go_filter_vectors() {
        // Expected strings from neo-go's TestFilter.
        assert_eq!(run(NEOGO_DOC, "$.Name"), "[]");
        assert_eq!(run(NEOGO_DOC, "$.Manufacturers[0].Name"), r#"["Acme Co"]"#);
        assert_eq!(
            run(NEOGO_DOC, "$.Manufacturers[0].Products[0].Price"),
            "[50]"
        );
        assert_eq!(
            run(NEOGO_DOC, "$.Manufacturers[1].Products[0].Name"),
            r#"["Elbow Grease"]"#
        );
        assert_eq!(
            run(NEOGO_DOC, "$.Manufacturers[1].Products[0]"),
            r#"[{"Name":"Elbow Grease","Price":99.95}]"#
        );
    }

    #[test]
    fn nested_paths_wildcards_and_descent() {
        assert_eq!(
            run(NEOGO_DOC, "$.Manufacturers[*].Name"),
            r#"["Acme Co","Contoso"]"#
        );
        assert_eq!(run(NEOGO_DOC, "$..Price"), "[50,99.95,4]");
        assert_eq!(
            run(NEOGO_DOC, "$.Stores[*]"),
            r#"["Lambton Quay","Willis Street"]"#
        );
        assert_eq!(run(NEOGO_DOC, "$.Stores[-1]"), r#"["Willis Street"]"#);
        assert_eq!(run(NEOGO_DOC, "$['Stores'][0:1]"), r#"["Lambton Quay"]"#);
        // RFC 9535 filter selectors work too (neo-go's own JSONPath has none).
        assert_eq!(
            run(NEOGO_DOC, "$..Products[?@.Price > 10].Name"),
            r#"["Anvil","Elbow Grease"]"#
        );
    }

    #[test]
    fn objects_keep_document_order() {
        let body = r#"{"z":1,"a":{"y":true,"b":null,"x":[1,"s"]}}"#;
        assert_eq!(run(body, "$.a"), r#"[{"y":true,"b":null,"x":[1,"s"]}]"#);
        assert_eq!(
            run(body, "$"),
            r#"[{"z":1,"a":{"y":true,"b":null,"x":[1,"s"]}}]"#
        );
    }

    #[test]
    fn matching_nothing_gives_an_empty_array() {
        assert_eq!(run(NEOGO_DOC, "$.nothing.here"), "[]");
        assert_eq!(run(NEOGO_DOC, "$.Stores[7]"), "[]");
        assert_eq!(run("42", "$.a"), "[]");
    }

    #[test]
    fn empty_or_absent_filter_returns_the_body_unchanged() {
        let body = b"not json at all \xff";
        assert_eq!(apply_filter(body, None).unwrap(), body);
        assert_eq!(apply_filter(body, Some("")).unwrap(), body);
    }

    #[test]
    fn invalid_paths_are_errors() {
        for bad in [
            "Manufacturers",
            "$.",
            "$[",
            "$..",
            "$.a[?(@.x ==)]",
            "$['a'",
        ] {
            let err = apply_filter(b"{}", Some(bad)).unwrap_err();
            assert!(matches!(err, FilterError::InvalidPath(_)), "{bad}: {err:?}");
        }
        assert!(matches!(
            validate_filter(Some("$$")),
            Err(FilterError::InvalidPath(_))
        ));
        assert!(validate_filter(Some("$.a")).is_ok());
        assert!(validate_filter(None).is_ok());
    }

    #[test]
    fn filter_length_is_capped_at_128_bytes() {
        let ok = format!("$.{}", "a".repeat(MAX_FILTER_LEN - 2));
        assert_eq!(run(r#"{"a":1}"#, &ok), "[]");
        let long = format!("$.{}", "a".repeat(MAX_FILTER_LEN - 1));
        assert_eq!(
            apply_filter(b"{}", Some(&long)).unwrap_err(),
            FilterError::TooLong { len: 129 }
        );
    }

    #[test]
    fn non_json_body_with_a_filter_is_an_error() {
        assert!(matches!(
            apply_filter(b"<html>hi</html>", Some("$.a")),
            Err(FilterError::NotJson(_))
        ));
        assert!(matches!(
            apply_filter(b"{\"a\":1} trailing", Some("$.a")),
            Err(FilterError::NotJson(_))
        ));
        assert_eq!(
            apply_filter(b"{\"a\":\"\xff\"}", Some("$.a")),
            Err(FilterError::NotUtf8)
        );
    }

    #[test]
    fn too_many_matches_are_an_error() {
        let body = format!("[{}]", vec!["0"; MAX_FILTER_MATCHES].join(","));
        assert_eq!(
            apply_filter(body.as_bytes(), Some("$[*]")).unwrap().len(),
            body.len()
        );
        let body = format!("[{}]", vec!["0"; MAX_FILTER_MATCHES + 1].join(","));
        assert_eq!(
            apply_filter(body.as_bytes(), Some("$[*]")),
            Err(FilterError::TooManyMatches(MAX_FILTER_MATCHES + 1))
        );
    }

    #[test]
    fn numbers_print_like_go() {
        // Expected digits: Python `repr(float(...))`, shortest round-trip like Go.
        let body = r#"[1.0, 1e3, -0.5, 1e21, 1e-7, 123456789012345678901234, 0.000001, 1.5e300,
                      9007199254740993, -0, 2.5E-10, 100000000000000000000]"#;
        assert_eq!(
            run(body, "$[*]"),
            "[1,1000,-0.5,1e+21,1e-7,1.2345678901234569e+23,0.000001,1.5e+300,\
             9007199254740992,-0,2.5e-10,100000000000000000000]"
        );
    }

    /// Results produced by neo-go 0.120.0's own oracle service (a privnet with
    /// `ApplicationConfiguration.Oracle` enabled, answering the example native consumer for a
    /// local HTTPS server that served `doc`), read from the `OracleResponse` attributes.
    #[test]
    fn neo_go_oracle_outputs() {
        let doc = concat!(
            r#"{"z":1,"a":{"y":true,"b":null,"x":[1.0,1e3,-0.5,1e21,1e-7,123456789012345678901234,"#,
            r#"9007199254740993,2.5E-10,100000000000000000000,-0,0.1]},"#,
            r#""s":"a\"b\\c/<>&'\u0001\b\f\n\r\t\u007f é€😀\u2028","k":{"é<":1,"q":[{"m":"n"}]}}"#
        );
        let x = "[1,1000,-0.5,1e+21,1e-7,1.2345678901234569e+23,9007199254740992,2.5e-10,\
                 100000000000000000000,-0,0.1]";
        let s = r#""a\u0022b\\c/\u003C\u003E\u0026\u0027\u0001\b\f\n\r\t\u007F \u00E9\u20AC\uD83D\uDE00\u2028""#;
        let k = r#"{"\u00E9\u003C":1,"q":[{"m":"n"}]}"#;
        let a = format!(r#"{{"y":true,"b":null,"x":{x}}}"#);
        let vectors = [
            ("$.a", format!("[{a}]")),
            ("$.s", format!("[{s}]")),
            ("$.k", format!("[{k}]")),
            ("$.a.x[*]", x.to_owned()),
            ("$", format!(r#"[{{"z":1,"a":{a},"s":{s},"k":{k}}}]"#)),
            ("$..m", r#"["n"]"#.to_owned()),
            ("$.a.x[0,2]", "[1,-0.5]".to_owned()),
            ("$.nothing", "[]".to_owned()),
        ];
        for (path, expected) in vectors {
            assert_eq!(run(doc, path), expected, "{path}");
        }
        // neo-go answered Error for these, as we do.
        for path in ["$[", "a.b"] {
            assert!(apply_filter(doc.as_bytes(), Some(path)).is_err(), "{path}");
        }
        // Every printable ASCII character, and doubles at the edges of Go's formats.
        let ascii: String = (0x20u8..0x7f).map(char::from).collect();
        let doc2 = serde_json::json!({ "p": ascii }).to_string();
        assert_eq!(
            run(&doc2, "$.p"),
            r#"[" !\u0022#$%\u0026\u0027()*\u002B,-./0123456789:;\u003C=\u003E?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_\u0060abcdefghijklmnopqrstuvwxyz{|}~"]"#
        );
        let doc3 = "[1e-06, 1e-07, 1e+20, 1e-300, 5e-324, 1.7976931348623157e+308, -1e-07, \
                    12345600.0, 100.0, 1.0]";
        assert_eq!(
            run(doc3, "$[*]"),
            "[0.000001,1e-7,100000000000000000000,1e-300,5e-324,1.7976931348623157e+308,-1e-7,\
             12345600,100,1]"
        );
    }

    mod props {
        use proptest::prelude::*;
        use serde_json::Value;

        use super::super::*;

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(Value::from),
                any::<String>().prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 40, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::vec((any::<String>(), inner), 0..6)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        /// Numbers as doubles (what neo-go keeps of them); everything else unchanged.
        fn as_doubles(v: &Value) -> Value {
            match v {
                Value::Number(n) => Value::from(n.as_f64().unwrap_or(f64::NAN)),
                Value::Array(a) => Value::Array(a.iter().map(as_doubles).collect()),
                Value::Object(o) => {
                    Value::Object(o.iter().map(|(k, v)| (k.clone(), as_doubles(v))).collect())
                }
                other => other.clone(),
            }
        }

        proptest! {
            /// `$` wraps the document: our output is valid JSON holding the same values.
            #[test]
            fn output_is_json_with_the_same_values(v in json_value()) {
                let body = serde_json::to_vec(&v).unwrap();
                let out = apply_filter(&body, Some("$")).unwrap();
                prop_assert!(out.is_ascii(), "non-ASCII is always escaped");
                let back: Value = serde_json::from_slice(&out).unwrap();
                prop_assert_eq!(as_doubles(&back), Value::Array(vec![as_doubles(&v)]));
            }

            /// Arbitrary bodies and filters never panic.
            #[test]
            fn never_panics(body in prop::collection::vec(any::<u8>(), 0..200),
                            filter in "[$.\\[\\]*?@'a-c0-9:,=<>!() -]{0,40}") {
                let _ = apply_filter(&body, Some(&filter));
            }

            /// Paths over generated documents never panic and always give a JSON array.
            #[test]
            fn paths_give_arrays(v in json_value(),
                                 filter in prop::sample::select(vec!["$..*", "$.*", "$[*]", "$[0]", "$..[-1]", "$[?@ > 0]"])) {
                let body = serde_json::to_vec(&v).unwrap();
                let out = apply_filter(&body, Some(filter)).unwrap();
                let back: Value = serde_json::from_slice(&out).unwrap();
                prop_assert!(back.is_array());
            }
        }
    }
}
