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
    // Filter selectors are not part of the dialect.
    assert!(matches!(
        apply_filter(
            NEOGO_DOC.as_bytes(),
            Some("$..Products[?@.Price > 10].Name")
        ),
        Err(FilterError::InvalidPath(_))
    ));
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
    // As Go's json.Decoder: the first value is read, what follows is ignored.
    assert_eq!(
        apply_filter(b"{\"a\":1} trailing", Some("$.a")).unwrap(),
        b"[1]"
    );
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
        Err(FilterError::TooManyMatches)
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
                             filter in prop::sample::select(vec!["$..a", "$.*", "$[*]", "$[0]", "$[-1]", "$[1:]", "$.*.*.*", "$[*][0,1]"])) {
            let body = serde_json::to_vec(&v).unwrap();
            let out = apply_filter(&body, Some(filter)).unwrap();
            let back: Value = serde_json::from_slice(&out).unwrap();
            prop_assert!(back.is_array());
        }
    }
}
