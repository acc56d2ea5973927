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

/// Vectors of neo-go's `jsonpath_test.go` (0.120.0), expected strings as neo-go prints them.
#[test]
fn neo_go_jsonpath_vectors() {
    let store = r#"{"store":{"name":"big","sub":[{"name":"sub1"},{"name":"sub2"}],
        "partner":{"name":"ppp"}},"another":{"name":"small"}}"#;
    for (path, want) in [
        ("$.store.name", r#"["big"]"#),
        ("$['store']['name']", r#"["big"]"#),
        ("$[*].name", r#"["big","small"]"#),
        ("$.*.name", r#"["big","small"]"#),
        ("$..store.name", r#"["big"]"#),
        // Level by level, not document order.
        ("$.store..name", r#"["big","ppp","sub1","sub2"]"#),
        ("$..sub.name", "[]"),
        ("$..sub..name", r#"["sub1","sub2"]"#),
    ] {
        assert_eq!(run(store, path), want, "{path}");
    }
    let arr = r#"["a","b","c","d"]"#;
    for (path, want) in [
        ("$[0]", r#"["a"]"#),
        ("$[3]", r#"["d"]"#),
        ("$[-1]", r#"["d"]"#),
        ("$[1:2]", r#"["b"]"#),
        ("$[1:-1]", r#"["b","c"]"#),
        ("$[-3:-1]", r#"["b","c"]"#),
        ("$[-3:3]", r#"["b","c"]"#),
        ("$[:3]", r#"["a","b","c"]"#),
        ("$[:100]", r#"["a","b","c","d"]"#),
        ("$[1:]", r#"["b","c","d"]"#),
        ("$[2:1]", "[]"),
        // An end of 0 means "to the end".
        ("$[1:0]", r#"["b","c","d"]"#),
        ("$[:]", r#"["a","b","c","d"]"#),
        ("$[0,2]", r#"["a","c"]"#),
        ("$[3,0,3]", r#"["d","a","d"]"#),
        ("$[7]", "[]"),
    ] {
        assert_eq!(run(arr, path), want, "{path}");
    }
    let mixed = r#"[[1,2],3,{"1":"4"},[5,6]]"#;
    assert_eq!(run(mixed, "$[:][1]"), "[2,6]");
    assert_eq!(run(mixed, "$[*].*"), r#"[1,2,"4",5,6]"#);
    assert_eq!(run(mixed, "$[*][1:]"), "[2,6]");
    let union = r#"["a",{"x":1,"y":2,"z":3},"c","d"]"#;
    assert_eq!(run(union, "$[1]['z','x']"), "[3,1]");
    // C# Neo's JPath vectors, as neo-go keeps them.
    let books = r#"{"store":{"book":[{"a":"N","p":8.95},{"a":"E","p":12.99},{"a":"H","p":8.99},
        {"a":"J","p":null}],"bicycle":{"color":"red","p":19.95}},"expensive":10,"data":null}"#;
    assert_eq!(run(books, "$.store..p"), "[19.95,8.95,12.99,8.99,null]");
    assert_eq!(
        run(books, "$..book[-2:]"),
        r#"[{"a":"H","p":8.99},{"a":"J","p":null}]"#
    );
    assert_eq!(
        run(books, "$.*"),
        r#"[{"book":[{"a":"N","p":8.95},{"a":"E","p":12.99},{"a":"H","p":8.99},{"a":"J","p":null}],"bicycle":{"color":"red","p":19.95}},10,null]"#
    );
    assert_eq!(run(books, "$..invalidfield"), "[]");
}

/// neo-go's `TestInvalidPaths`, plus what RFC 9535 accepts and Neo's dialect does not.
#[test]
fn paths_outside_the_dialect_are_refused() {
    let big = i64::from(i32::MAX) + 1;
    let mut bad: Vec<String> = [
        ".",
        "$1",
        "&",
        "$&",
        "$.&",
        "$.[0]",
        "$..",
        "$..*",
        "$..&",
        "$..1",
        "$[&]",
        "$[**]",
        "$[1&]",
        "$['a'&]",
        "$['a'1]",
        "$['a",
        "$['\\u123']",
        "$['s','\\u123']",
        "$[[]]",
        "$[1,'a']",
        "$[1,1&",
        "$[1,1[]]",
        "$[1:&]",
        "$[1:1[]]",
        "$[1:[]]",
        "$[",
        // RFC 9535 only: filter selectors, sub-queries, steps, whitespace, double quotes.
        "$[?@.a]",
        "$[?(@.a>1)]",
        "$[?$[?$[*]]]",
        "$[0:4:2]",
        "$[ 0 ]",
        "$[\"a\"]",
        "$.a[-]",
        "$['a\"b']",
        "$['\t']",
        "$[+1]",
        "$..[0]",
        "$.1a",
        "",
        "a.b",
        "$$",
        "$.a ",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    bad.retain(|s| !s.is_empty());
    for n in [
        format!("$[{big}]"),
        format!("$[{big}:]"),
        format!("$[:{big}]"),
        format!("$[1,{big}]"),
    ] {
        bad.push(n);
    }
    for path in &bad {
        let err = apply_filter(b"{}", Some(path)).unwrap_err();
        assert!(
            matches!(err, FilterError::InvalidPath(_)),
            "{path}: {err:?}"
        );
        assert!(validate_filter(Some(path)).is_err(), "{path}");
    }
    // Quoted names are JSON string bodies.
    assert_eq!(run(r#"{"é\"":1,"a'":2}"#, r#"$['\u00e9\"']"#), "[1]");
    assert_eq!(run(r#"{"":1}"#, "$['']"), "[1]");
    assert_eq!(run(r#"{"_x9":1}"#, "$._x9"), "[1]");
    assert_eq!(run(r#"[1,2]"#, "$[-0]"), "[1]");
    assert_eq!(run(r#"[1,2]"#, "$[001]"), "[2]");
}

#[test]
fn depth_budget_is_six_levels() {
    let doc = r#"{"a":{"b":{"c":{"d":{"e":{"f":{"g":1}}}}}}}"#;
    assert_eq!(run(doc, "$.a.b.c.d.e.f"), r#"[{"g":1}]"#);
    assert_eq!(run(doc, "$.*.*.*.*.*.*"), r#"[{"g":1}]"#);
    for path in ["$.a.b.c.d.e.f.g", "$.*.*.*.*.*.*.*", "$.a.b.c.d.e.f[0]"] {
        assert_eq!(
            apply_filter(doc.as_bytes(), Some(path)),
            Err(FilterError::TooDeep),
            "{path}"
        );
    }
    let nested = "[[[[[[[1]]]]]]]";
    assert_eq!(run(nested, "$[0][0][0][0][0][0]"), "[[1]]");
    assert_eq!(run(nested, "$[0:][0:][0:][0:][0:][0:]"), "[[1]]");
    for path in ["$[0][0][0][0][0][0][0]", "$[0:][0:][0:][0:][0:][0:][0:]"] {
        assert_eq!(
            apply_filter(nested.as_bytes(), Some(path)),
            Err(FilterError::TooDeep)
        );
    }
    // `..` spends one level per document level it walks and stops quietly when the budget is
    // spent: a match seven levels down is not found, and nothing is left for a next segment.
    assert_eq!(run(doc, "$..g"), "[1]");
    assert_eq!(run(doc, "$..f"), r#"[{"g":1}]"#);
    let deeper = r#"{"a":{"b":{"c":{"d":{"e":{"f":{"x":{"g":1}}}}}}}}"#;
    assert_eq!(run(deeper, "$..g"), "[]");
    assert_eq!(run(deeper, "$..x"), r#"[{"g":1}]"#);
    assert_eq!(
        apply_filter(doc.as_bytes(), Some("$..f.g")),
        Err(FilterError::TooDeep)
    );
    assert_eq!(run(r#"{"a":{"b":1}}"#, "$..a.b"), "[1]");
}

/// neo-go's "big amount of intermediate objects" cases: every step that would hold more than
/// 1,024 values fails, wherever it happens.
#[test]
fn object_limit_holds_at_every_step() {
    let ten = |i: &str| format!("[{}]", [i; 10].join(","));
    let cases = [
        (format!("${}", ten("0").repeat(4)), "[[[[{}]]]]"),
        (format!("${}.*", ten("0").repeat(3)), "[[[[{},{}]]]]"),
        (format!("${}[0:2]", ten("0").repeat(3)), "[[[[{},{}]]]]"),
        (
            format!("${}..a", ten("0").repeat(3)),
            r#"[[[{"a":{"a":{}}}]]]"#,
        ),
        (
            format!("${}['x','y']", ten("0").repeat(3)),
            r#"[[[{"x":{},"y":{}}]]]"#,
        ),
        (
            format!("${}", ten("'a'").repeat(4)),
            r#"{"a":{"a":{"a":{"a":{}}}}}"#,
        ),
        (
            format!("${}.*", ten("'a'").repeat(3)),
            r#"{"a":{"a":{"a":{"x":{},"y":{}}}}}"#,
        ),
    ];
    for (path, doc) in cases {
        // Some of these paths are longer than the on-chain limit: evaluate them directly.
        let segments = super::path::parse(&path).unwrap();
        let doc = super::json::Doc::parse(doc.as_bytes()).unwrap();
        assert_eq!(
            super::path::Eval::new(&doc, &|| false).run(&segments),
            Err(FilterError::TooManyMatches),
            "{path}"
        );
    }
    // 1,000 values are fine.
    let path = format!("${}", ten("0").repeat(3));
    assert_eq!(
        run("[[[7]]]", &path),
        format!("[{}]", vec!["7"; 1000].join(","))
    );
}

#[test]
fn slices_starting_before_the_array_fail() {
    // neo-go 0.120.0 panics on these (a Go slice with a negative start); we refuse the filter.
    for path in ["$[-10:]", "$[-4:2]", "$[-1:]"] {
        let body: &[u8] = if path == "$[-1:]" { b"[]" } else { b"[1,2,3]" };
        assert_eq!(
            apply_filter(body, Some(path)),
            Err(FilterError::SliceBeforeStart),
            "{path}"
        );
    }
    assert_eq!(run("[1,2,3]", "$[-3:]"), "[1,2,3]");
    assert_eq!(run("[1,2,3]", "$[5:9]"), "[]");
}

#[test]
fn bodies_decode_as_go_decodes_them() {
    // Duplicate keys: lookups take the first, output keeps both.
    assert_eq!(run(r#"{"a":1,"a":2}"#, "$.a"), "[1]");
    assert_eq!(run(r#"{"a":1,"a":2}"#, "$"), r#"[{"a":1,"a":2}]"#);
    assert_eq!(run(r#"{"a":1,"a":2}"#, "$.*"), "[1,2]");
    // The first value only.
    assert_eq!(run("012", "$"), "[0]");
    assert_eq!(run("12abc", "$"), "[12]");
    assert_eq!(run("[1] [2]", "$"), "[[1]]");
    assert_eq!(run(" \t\r\n true", "$"), "[true]");
    // Lone surrogates become U+FFFD; a valid pair is one character.
    assert_eq!(
        run(
            r#"["\ud800x","\udc00","\ud83d\ude00","\ud800\u0041"]"#,
            "$[*]"
        ),
        r#"["\uFFFDx","\uFFFD","\uD83D\uDE00","\uFFFDA"]"#
    );
    // Underflow is 0, overflow fails.
    assert_eq!(run("[1e-400,-1e-400]", "$[*]"), "[0,-0]");
    for body in [
        "1e400",
        "",
        "  ",
        "[1,]",
        "{\"a\":1,}",
        "{'a':1}",
        "[01]",
        "-",
        "1.",
        "1e",
        "tru",
        "nul",
        "\"a\tb\"",
        "\"\\x\"",
        "\"\\u12\"",
        "[1 2]",
        "{\"a\" 1}",
        "\u{feff}1",
        "[",
        "{\"a\":",
    ] {
        assert!(
            matches!(
                apply_filter(body.as_bytes(), Some("$")),
                Err(FilterError::NotJson(_))
            ),
            "{body:?}"
        );
    }
}

/// Go decodes any nesting depth; so do we, without recursion (a thread's stack would not hold
/// 32,000 frames).
#[test]
fn deeply_nested_bodies_do_not_overflow_the_stack() {
    let depth = 32_000;
    let body = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    // The result is the body itself in an array: larger than nothing, smaller than the limit.
    let out = apply_filter(body.as_bytes(), Some("$")).unwrap();
    assert_eq!(out.len(), body.len() + 2);
    assert_eq!(run(&body, "$..a"), "[]");
    let obj = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    assert_eq!(run(&obj, "$.a.a.a.a.a.a").len(), obj.len() - 6 * 6 + 2);
}

/// Hostile filters on a 64 KB body: each is refused or answered, none runs away. (The result is
/// asserted, not the time; the old RFC 9535 engine took hours on the first one.)
#[test]
fn hostile_filters_on_a_64k_body_are_bounded() {
    // ~64 KB: 2,000 objects with 3 members, in an array, and a deep chain.
    let item = r#"{"a":[1,2,3],"b":{"a":"x"},"c":"yyyy"}"#;
    let wide = format!("[{}]", vec![item; 1_600].join(","));
    assert!(
        wide.len() > 60_000 && wide.len() <= MAX_RESULT_SIZE,
        "{}",
        wide.len()
    );
    assert!(matches!(
        apply_filter(wide.as_bytes(), Some("$[?$[?$[*]]]")),
        Err(FilterError::InvalidPath(_))
    ));
    assert_eq!(
        apply_filter(wide.as_bytes(), Some("$[*]")),
        Err(FilterError::TooManyMatches)
    );
    assert_eq!(
        apply_filter(wide.as_bytes(), Some("$.*")),
        Err(FilterError::TooManyMatches)
    );
    // `..` over a level with more than 1,024 values stops there quietly.
    assert_eq!(run(&wide, "$..c"), "[]");
    // Multiplying one element: the output stops at the result limit.
    let copies = format!("$[{}]", vec!["0"; 60].join(","));
    let one_big = format!("[{wide}]");
    assert_eq!(
        apply_filter(one_big.as_bytes(), Some(&copies)),
        Err(FilterError::ResultTooLarge)
    );
    // Many names on many copies: bounded by 1,024 values per step.
    let names = format!("$[0:1000]['{}']", vec!["a"; 20].join("','"));
    assert_eq!(
        apply_filter(wide.as_bytes(), Some(&names)),
        Err(FilterError::TooManyMatches)
    );
}

#[tokio::test]
async fn the_deadline_answers_cancelled_and_stops_the_job() {
    // A job that never finishes on its own: it waits for the cancel flag.
    let (tx, rx) = std::sync::mpsc::channel();
    let out = run_bounded(std::time::Duration::from_millis(50), move |cancelled| {
        while !cancelled() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let _ = tx.send(());
        Err(FilterError::Cancelled)
    })
    .await;
    assert_eq!(out, Err(FilterError::Cancelled));
    // The job saw the flag and ended (frees its slot).
    rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap();
    // A cancelled filter stops at its next check.
    let f = Filter::parse("$[*]").unwrap();
    assert_eq!(
        f.apply_until(b"[1,2]", &|| true),
        Err(FilterError::Cancelled)
    );
    // And the bounded path gives the same bytes as the direct one.
    let body = br#"{"a":[1,{"b":"\u00e9"}]}"#.to_vec();
    assert_eq!(
        apply_filter_bounded(body.clone(), Some("$.a[1]".into()), FILTER_DEADLINE).await,
        apply_filter(&body, Some("$.a[1]"))
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

        /// Any string at all as a filter (unicode, escapes, huge integers) never panics, and
        /// `validate_filter` agrees with applying it to an empty object about syntax.
        #[test]
        fn parser_never_panics(filter in any::<String>(),
                               tail in "(\\.[a-z*.]{0,3}|\\[(-?[0-9]{1,12}|'[^']{0,4}'|\\*|:)?(,|:)?(-?[0-9]{0,11}|'[^']{0,3}')?\\]?){0,8}") {
            for f in [filter.clone(), format!("${tail}"), format!("${filter}")] {
                let v = validate_filter(Some(&f));
                let r = apply_filter(b"{\"a\":[{\"b\":1}],\"c\":{}}", Some(&f));
                if v.is_err() {
                    prop_assert_eq!(r.unwrap_err(), v.unwrap_err());
                }
            }
        }

        /// Generated JSON text (whitespace, nesting, escapes) never panics the decoder.
        #[test]
        fn decoder_never_panics(body in "[\\[\\]{}:,\" 0-9eE.+\\-tfnrul\\\\a-c]{0,60}") {
            let _ = apply_filter(body.as_bytes(), Some("$..a"));
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
