//! Our JSONPath filter against neo-go's own, on a real chain: a privnet runs neo-go 0.120.0's own
//! oracle service (`nsl_devchain::NeoGoOracle`: the validator key designated for the Oracle role,
//! `AllowPrivateHost`, our test CA trusted), the example native consumer
//! (`examples/contracts/oracle_consumer`) asks for a corpus of filters x bodies served by a local
//! HTTPS server, in a few transactions, and neo-go answers every request with an `OracleResponse`
//! transaction. For every case, `nsl_oracle::answer` (fetch through `nsl-egress`, filter) on the
//! same URL must give the same response code and byte-identical result.
//!
//! Not in the corpus, on purpose (see `docs/oracle.md`): a slice whose start lies before its
//! array (`$[-10:]` on 3 items), which makes neo-go 0.120.0's node panic and exit; the empty
//! filter `""`, where neo-go and C# Neo disagree (we follow C# Neo); filters over 128 bytes, which
//! the OracleContract refuses before any oracle sees them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;

use neo::tx::TransactionAttribute;
use neo::{Arg, UInt160};
use neo_rpc::native::ORACLE;
use neo_rpc::{Account, Actor, ContractManagement, ONE_GAS, TxOutcome};
use nsl_devchain::{ChainConfig, NeoGoOracle};
use nsl_e2e::{compile_repo_contract, start_chain_with, test_block_time};
use nsl_egress::{Egress, EgressPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The egress crate's TLS test fixtures: a test CA and a server certificate for 127.0.0.1.
fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/egress/tests/fixtures")
        .join(name)
}

/// The bodies the corpus fetches, by name (served at `/<name>` as `application/json`).
fn bodies() -> Vec<(&'static str, Vec<u8>)> {
    let store = r#"{"store":{"book":[
        {"category":"reference","author":"Nigel Rees","title":"Sayings of the Century","price":8.95},
        {"category":"fiction","author":"Evelyn Waugh","title":"Sword of Honour","price":12.99},
        {"category":"fiction","author":"Herman Melville","title":"Moby Dick","isbn":"0-553-21311-3","price":8.99},
        {"category":"fiction","author":"J. R. R. Tolkien","title":"The Lord of the Rings","isbn":"0-395-19395-8","price":null}],
        "bicycle":{"color":"red","price":19.95}},"expensive":10,"data":null,"_x9":[true,false]}"#;
    let deep = r#"{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":1}},"x":[1,[2,[3]]]}}}}}}"#;
    let nums = "[1.0, 1e3, -0.5, 1e21, 1e-7, 123456789012345678901234, 0.000001, 1.5e300, \
                9007199254740993, -0, 2.5E-10, 100000000000000000000, 0.1, 5e-324, 1e-400, \
                1.7976931348623157e308, 12345600.0, -1e-07]";
    let unicode = concat!(
        r#"{"é":"\u00e9","s":"a\"b\\c/<>&'\u0001\b\f\n\r\t\u007f é€😀\u2028\u2029+`","#,
        r#""lone":"\ud800x\udc00","pair":"\ud83d\ude00","k":{"é<":1,"q":[{"m":"n"}]},"#,
        r#""":"empty","a b":2,"a":1,"a":2,"dup":{"z":1,"z":{"y":2}}}"#
    );
    let wide = format!(
        "[{}]",
        (0..1100)
            .map(|i| format!(r#"{{"a":{i},"b":[{i}]}}"#))
            .collect::<Vec<_>>()
            .join(",")
    );
    let nested = format!("{}7{}", "[".repeat(3000), "]".repeat(3000));
    vec![
        ("store", store.as_bytes().to_vec()),
        ("deep", deep.as_bytes().to_vec()),
        ("nums", nums.as_bytes().to_vec()),
        ("overflow", b"[1, 1e400]".to_vec()),
        ("unicode", unicode.as_bytes().to_vec()),
        ("wide", wide.into_bytes()),
        ("nested", nested.into_bytes()),
        ("trailing", br#"{"a":[1,2]} and then some"#.to_vec()),
        ("prefix", b"012".to_vec()),
        ("html", b"<html>not json</html>".to_vec()),
        ("empty", Vec::new()),
        ("string", br#""just a string""#.to_vec()),
        ("badjson", br#"{"a":[1,2,]}"#.to_vec()),
    ]
}

/// (body, filter) pairs.
fn corpus() -> Vec<(&'static str, String)> {
    let mut cases: Vec<(&'static str, String)> = Vec::new();
    let mut add = |body: &'static str, filters: &[&str]| {
        for f in filters {
            cases.push((body, (*f).to_owned()));
        }
    };
    add(
        "store",
        &[
            "$",
            "$.store",
            "$.store.book[*].author",
            "$..author",
            "$.store.*",
            "$.store..price",
            "$..book[2]",
            "$..book[-2]",
            "$..book[0,1]",
            "$..book[:2]",
            "$..book[1:2]",
            "$..book[-2:]",
            "$..book[2:]",
            "$..book[1:0]",
            "$..book[:]",
            "$..book[-1:-3]",
            "$..book[3,0,3]",
            "$.*",
            "$[*]",
            "$..invalidfield",
            "$['store']['bicycle']['color']",
            "$['store','expensive','nothing']",
            "$.store.book[0]['title','author']",
            "$.store.book[7]",
            "$.store.book[-7]",
            "$.store.book[2147483647]",
            "$.store.book[-2147483648]",
            "$._x9[1]",
            "$.store.book[*].price",
            "$..book..author",
            "$..price",
            "$.store.book[*].isbn",
            "$['st\\u006fre'].bicycle",
            "$.store.book[001]",
            "$.store.book[-0]",
            // Outside the dialect: refused.
            "$.store.book[2147483648]",
            "$.store.book[?(@.price<10)]",
            "$..book[?@.isbn]",
            "$[?$[?$[*]]]",
            "$..*",
            "$.store.book[0:4:2]",
            "$ .store",
            "$.store.",
            "$[\"store\"]",
            "$['store'",
            "store",
            "@.store",
            "$$",
            "$.store.book[1,'a']",
            "$..[0]",
            "$.1a",
            "$['a\"b']",
            "$[-]",
            "$[+1]",
            "$.store.book.length()",
        ],
    );
    add(
        "deep",
        &[
            "$.a.b.c.d.e.f",
            "$.a.b.c.d.e.f.g",
            "$.*.*.*.*.*.*",
            "$.*.*.*.*.*.*.*",
            "$..f",
            "$..g",
            "$..h",
            "$..f.g",
            "$..a.b",
            "$.a..c",
            "$.a..e.f",
            "$.a.b..x",
            "$.a.b.c.d.e.x[1][1]",
            "$.a.b.c.d.e.x[1][1][0]",
        ],
    );
    add(
        "nums",
        &[
            "$", "$[*]", "$[0,3,5]", "$[-1]", "$[-3:]", "$[3:5]", "$[14]",
        ],
    );
    add("overflow", &["$", "$[0]"]);
    add(
        "unicode",
        &[
            "$",
            "$.s",
            "$.lone",
            "$.pair",
            "$['é']",
            "$['\\u00e9']",
            "$['']",
            "$['a b']",
            "$.a",
            "$['a','a']",
            "$.*",
            "$.k['é<']",
            "$..m",
            "$.dup.z",
            "$.dup.*",
            "$['\\ud83d\\ude00']",
            "$['\\ud800']",
        ],
    );
    add(
        "wide",
        &[
            "$[*]",
            "$.*",
            "$[:1024]",
            "$[:1025]",
            "$[0:1024].a",
            "$[1000:].a",
            "$[1000:].b[0]",
            "$[*].a",
            "$..a",
            "$[0,1,2]..b",
            "$[10]",
            "$[-1]",
        ],
    );
    add(
        "nested",
        &["$[0][0][0][0][0][0][0]", "$..x", "$[0][0][0][0][0][0]"],
    );
    add("trailing", &["$.a", "$"]);
    add("prefix", &["$"]);
    add("html", &["$"]);
    add("empty", &["$"]);
    add("string", &["$", "$.a", "$[0]"]);
    add("badjson", &["$"]);
    cases
}

/// An HTTPS server on 127.0.0.1 serving `bodies` at `/<name>`; aborted on drop.
struct Https {
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Https {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn https_server(bodies: HashMap<String, Vec<u8>>) -> Https {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(fixture("server.pem"))
        .expect("server.pem")
        .collect::<Result<_, _>>()
        .expect("certificates");
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).expect("server.key");
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let bodies = Arc::new(bodies);
    let task = tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let bodies = bodies.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let mut buf = vec![0u8; 8192];
                let mut n = 0;
                while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") && n < buf.len() {
                    match tls.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => n += k,
                    }
                }
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("/");
                let name = path.trim_start_matches('/').split('?').next().unwrap_or("");
                let (status, body) = match bodies.get(name) {
                    Some(b) => ("200 OK", b.clone()),
                    None => ("404 Not Found", b"{}".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(&body).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    Https { addr, task }
}

/// Requests per transaction: each costs 0.5 GAS plus its gasForResponse in system fee, and a
/// test invocation may spend at most 100 GAS (`MaxGasInvoke`).
const PER_TX: usize = 40;
/// gasForResponse of every request: enough network fee for a result of ~60 KB.
const GAS_FOR_RESPONSE: i64 = ONE_GAS;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_matches_neo_gos_oracle_byte_for_byte() {
    let bodies = bodies();
    let server = https_server(
        bodies
            .iter()
            .map(|(n, b)| ((*n).to_owned(), b.clone()))
            .collect(),
    )
    .await;
    let chain_config = ChainConfig {
        neogo_oracle: Some(NeoGoOracle {
            allow_private_host: true,
            ca_file: Some(fixture("ca.pem")),
            allowed_content_types: Vec::new(),
            max_concurrent_requests: None,
        }),
        ..ChainConfig::with_block_time(test_block_time())
    };
    let (chain, consumer_c) = tokio::join!(
        start_chain_with(chain_config),
        compile_repo_contract("examples/contracts/oracle_consumer/oracle_consumer.py"),
    );
    let rpc = chain.rpc().clone();
    let user_key = chain
        .new_funded_account(1_000 * ONE_GAS)
        .await
        .expect("fund the user");
    let user = Actor::new(rpc.clone(), vec![Account::single(user_key)])
        .await
        .expect("user actor");
    let consumer: UInt160 = ContractManagement::new(rpc.clone())
        .deploy(&user, &consumer_c.nef, &consumer_c.manifest, Arg::Null)
        .await
        .expect("deploy the consumer")
        .hash;

    // Every case has its own URL (`?<index>`), so a request id maps back to its case.
    let cases = corpus();
    let url = |i: usize, body: &str| format!("https://{}/{body}?{i}", server.addr);
    for (i, (_, filter)) in cases.iter().enumerate() {
        assert!(filter.len() <= 128, "case {i}: {filter}");
    }
    let mut case_of_id: HashMap<u64, usize> = HashMap::new();
    let first_block = rpc.get_block_count().await.expect("height");
    for chunk in (0..cases.len()).collect::<Vec<_>>().chunks(PER_TX) {
        let mut script = Vec::new();
        for &i in chunk {
            let (body, filter) = &cases[i];
            script.extend(
                neo_rpc::call_script(
                    &consumer,
                    "requestData",
                    &[
                        Arg::String(url(i, body)),
                        Arg::String(filter.clone()),
                        Arg::Int(GAS_FOR_RESPONSE.into()),
                    ],
                )
                .expect("requestData script"),
            );
        }
        let out = user
            .run(&script)
            .await
            .and_then(TxOutcome::into_halt)
            .expect("requests");
        for event in out.events(&ORACLE, "OracleRequest") {
            let args = event.args();
            let id = args[0].as_u64().expect("id");
            let event_url =
                String::from_utf8(args[2].as_bytes().expect("url").to_vec()).expect("url text");
            let index: usize = event_url
                .rsplit('?')
                .next()
                .and_then(|s| s.parse().ok())
                .expect("case index in the URL");
            case_of_id.insert(id, index);
        }
    }
    assert_eq!(case_of_id.len(), cases.len(), "one OracleRequest per case");

    // neo-go's answers: the OracleResponse attributes of the blocks that follow.
    let mut answers: HashMap<u64, (u8, Vec<u8>)> = HashMap::new();
    let mut next = first_block;
    let deadline = Instant::now() + Duration::from_secs(180);
    while answers.len() < cases.len() {
        assert!(
            Instant::now() < deadline,
            "neo-go answered {} of {} requests; missing: {:?}\n{}",
            answers.len(),
            cases.len(),
            case_of_id
                .iter()
                .filter(|(id, _)| !answers.contains_key(id))
                .map(|(_, i)| &cases[*i])
                .collect::<Vec<_>>(),
            chain.log_tail(40)
        );
        let height = rpc.get_block_count().await.expect("height");
        if next >= height {
            tokio::time::sleep(test_block_time()).await;
            continue;
        }
        // Raw JSON and raw transaction bytes: the attribute is read byte-exact from the wire
        // format (neo-go prints an empty result as `null`, which `RpcClient::get_block` refuses).
        let block: serde_json::Value = rpc
            .call("getblock", serde_json::json!([next, 1]))
            .await
            .expect("getblock");
        for tx in block["tx"].as_array().into_iter().flatten() {
            let oracle = tx["attributes"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| a["type"] == "OracleResponse");
            if !oracle {
                continue;
            }
            let hash = tx["hash"].as_str().expect("tx hash");
            let raw: String = rpc
                .call("getrawtransaction", serde_json::json!([hash, 0]))
                .await
                .expect("getrawtransaction");
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(raw)
                .expect("base64 transaction");
            let decoded = neo::tx::Transaction::from_bytes(&bytes).expect("a transaction");
            for a in decoded.attributes {
                if let TransactionAttribute::OracleResponse { id, code, result } = a {
                    answers.insert(id, (code as u8, result));
                }
            }
        }
        next += 1;
    }

    // Ours, fetched from the same server through the egress guard (the test CA trusted).
    let egress = Egress::new(EgressPolicy {
        allow_private_hosts: true,
        extra_ca_files: vec![fixture("ca.pem")],
        ..EgressPolicy::default()
    })
    .expect("egress");
    let mut mismatches = Vec::new();
    let mut codes: HashMap<u8, usize> = HashMap::new();
    for (id, index) in &case_of_id {
        let (body, filter) = &cases[*index];
        let (neo_code, neo_result) = &answers[id];
        *codes.entry(*neo_code).or_default() += 1;
        let ours = nsl_oracle::answer(&egress, &url(*index, body), Some(filter)).await;
        if ours.code as u8 != *neo_code || &ours.result != neo_result {
            mismatches.push(format!(
                "{body} {filter:?}: neo-go {neo_code:#04x} {:?} / ours {:#04x} {:?} ({:?})",
                String::from_utf8_lossy(&neo_result[..neo_result.len().min(300)]),
                ours.code as u8,
                String::from_utf8_lossy(&ours.result[..ours.result.len().min(300)]),
                ours.detail
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ from neo-go:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
    // The corpus exercises both outcomes.
    assert!(codes.get(&0x00).copied().unwrap_or(0) > 40, "{codes:?}");
    assert!(codes.get(&0xff).copied().unwrap_or(0) > 20, "{codes:?}");
    println!("{} cases, neo-go codes {codes:?}: identical", cases.len());
}
