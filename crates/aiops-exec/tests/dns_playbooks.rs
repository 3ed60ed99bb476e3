//! The DNS playbooks against a real BIND 9 through real ansible-playbook:
//! check mode, add, idempotent re-add, delete, bad key; all verified with `dns_lookup`.
//! Every `dns.lookup` record type, and deletes of SRV, TXT and CNAME records at names with
//! underscore labels, verified with `dns_lookup` and dig.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use aiops_exec::{Ansible, PlaybookOutcome, PlaybookRun, dns_lookup};
use secrecy::SecretString;
use serde_json::{Map, Value, json};

use common::{Bind, ansible, assert_no_entries, bind, repo_root};

const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

fn vars(bind: &Bind, extra: Value) -> Map<String, Value> {
    let mut vars = json!({
        "dns_server": bind.addr.ip().to_string(),
        "dns_port": bind.addr.port(),
        "zone": "local",
        "record_name": "test.local",
    });
    vars.as_object_mut()
        .expect("object")
        .extend(extra.as_object().expect("object").clone());
    vars.as_object().expect("object").clone()
}

/// A TSIG key: name, algorithm, secret.
type Key<'a> = (&'a str, &'a str, &'a str);

const ADD: &str = "dns/add_record.yml";
const DELETE: &str = "dns/delete_record.yml";

/// A run of `playbook` (a dry run when `check`), signed with `key` when there is one.
fn dns_run(
    playbook: &str,
    vars: &Map<String, Value>,
    key: Option<Key<'_>>,
    check: bool,
) -> PlaybookRun {
    let secret_vars = key.map_or_else(BTreeMap::new, |(name, algorithm, secret)| {
        BTreeMap::from([
            ("tsig_key_name".to_owned(), SecretString::from(name)),
            (
                "tsig_key_algorithm".to_owned(),
                SecretString::from(algorithm),
            ),
            ("tsig_key_secret".to_owned(), SecretString::from(secret)),
        ])
    });
    PlaybookRun {
        playbook: playbook.into(),
        vars: vars.clone(),
        secret_vars,
        check,
        limit: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_check_idempotent_delete_against_real_bind() {
    let bind = bind();
    let tsig = bind.tsig();
    let (key_name, key_alg, key_secret) = (tsig.name, tsig.algorithm, tsig.secret);
    let tmp = tempfile::tempdir().expect("tmp");
    let playbooks = repo_root().join("deploy/ansible/playbooks");
    let ansible = ansible(&playbooks, 120, tmp.path());
    let add_vars = vars(&bind, json!({"ip": "192.168.1.100", "ttl": 3600}));
    let key: Key<'_> = (&key_name, &key_alg, &key_secret);

    let lookup = || dns_lookup(bind.addr, "test.local", "A", LOOKUP_TIMEOUT);
    assert!(lookup().await.expect("lookup").records.is_empty());

    // 1. Check mode: reports the change with a diff, changes nothing.
    let check = ansible
        .run(&dns_run(ADD, &add_vars, Some(key), true))
        .await
        .expect("check run");
    assert!(check.changed, "{check:?}");
    assert!(!check.failed);
    assert!(
        check.diff.contains("+test.local 3600 IN A 192.168.1.100"),
        "diff: {}",
        check.diff
    );
    assert_eq!(
        check.msg,
        "Record test.local A 192.168.1.100 would be added"
    );
    assert!(lookup().await.expect("lookup").records.is_empty());

    // 1b. Plans are made before credentials are fetched: check mode works without the key
    // (unsigned query); a real run without it is refused by the server.
    let keyless = ansible
        .run(&dns_run(ADD, &add_vars, None, true))
        .await
        .expect("keyless check run");
    assert!(keyless.changed);
    assert_eq!(keyless.diff, check.diff);
    let err = ansible
        .run(&dns_run(ADD, &add_vars, None, false))
        .await
        .expect_err("unsigned update must be refused");
    assert_eq!(err.code(), "executor_failed");
    assert!(err.to_string().contains("REFUSED"), "{err}");
    assert!(lookup().await.expect("lookup").records.is_empty());

    // 2. For real.
    let added = ansible
        .run(&dns_run(ADD, &add_vars, Some(key), false))
        .await
        .expect("add run");
    assert!(added.changed && !added.failed, "{added:?}");
    assert_eq!(added.msg, "Record added successfully");
    assert_eq!(added.tasks.len(), 1);
    assert_eq!(added.tasks[0].status, "changed");
    assert_eq!(added.tasks[0].host, "localhost");
    let answer = lookup().await.expect("lookup");
    assert_eq!(answer.records, vec!["192.168.1.100".to_owned()]);
    assert_eq!(answer.ttl, Some(3600));
    assert_eq!(answer.name, "test.local");
    assert_eq!(answer.rtype, "A");

    // 3. Again: a no-op.
    let again = ansible
        .run(&dns_run(ADD, &add_vars, Some(key), false))
        .await
        .expect("re-add run");
    assert!(!again.changed, "{again:?}");
    assert_eq!(again.tasks[0].status, "ok");
    assert_eq!(
        again.msg,
        "Record test.local A 192.168.1.100 already present"
    );
    // Check mode agrees.
    let again_check = ansible
        .run(&dns_run(ADD, &add_vars, Some(key), true))
        .await
        .expect("re-add check run");
    assert!(!again_check.changed);
    assert_eq!(again_check.diff, "");

    // 4. A wrong key fails cleanly, with the key scrubbed and nothing changed.
    let wrong = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let other_ip = vars(&bind, json!({"ip": "192.168.1.101", "ttl": 3600}));
    let err = ansible
        .run(&dns_run(
            ADD,
            &other_ip,
            Some((&key_name, &key_alg, wrong)),
            false,
        ))
        .await
        .expect_err("wrong key must fail");
    assert_eq!(err.code(), "executor_failed");
    assert!(err.to_string().contains("TSIG"), "{err}");
    assert!(!format!("{err:?}").contains(wrong));
    assert_eq!(
        lookup().await.expect("lookup").records,
        vec!["192.168.1.100".to_owned()]
    );

    // 5. Delete: check mode first, then for real.
    let del_vars = vars(&bind, json!({"record_type": "A"}));
    let del_check = ansible
        .run(&dns_run(DELETE, &del_vars, Some(key), true))
        .await
        .expect("delete check");
    assert!(del_check.changed);
    assert!(
        del_check
            .diff
            .contains("-test.local 3600 IN A 192.168.1.100"),
        "{}",
        del_check.diff
    );
    assert_eq!(lookup().await.expect("lookup").records.len(), 1);
    let deleted = ansible
        .run(&dns_run(DELETE, &del_vars, Some(key), false))
        .await
        .expect("delete");
    assert!(deleted.changed);
    assert_eq!(deleted.msg, "Record deleted");
    assert!(lookup().await.expect("lookup").records.is_empty());
    let deleted_again = ansible
        .run(&dns_run(DELETE, &del_vars, Some(key), false))
        .await
        .expect("delete again");
    assert!(!deleted_again.changed);

    // Nothing of any run is left on disk, and no output held the key.
    assert_no_entries(tmp.path());
    for outcome in [&check, &added, &again, &del_check, &deleted] {
        let text = serde_json::to_string(outcome).expect("json");
        assert!(!text.contains(&key_secret));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_zone_and_types_lookup() {
    let bind = bind();
    // The zone's own records are there; unknown names are empty, not errors.
    let ns = dns_lookup(bind.addr, "ns1.corp.example.com", "A", LOOKUP_TIMEOUT)
        .await
        .expect("lookup");
    assert_eq!(ns.records, vec!["127.0.0.1".to_owned()]);
    assert_eq!(ns.ttl, Some(300));
    for (name, rtype) in [
        ("nothing.corp.example.com", "A"),
        ("ns1.corp.example.com", "AAAA"),
        ("ns1.local", "TXT"),
        ("ns1.local", "CNAME"),
    ] {
        let answer = dns_lookup(bind.addr, name, rtype, LOOKUP_TIMEOUT)
            .await
            .expect("lookup");
        assert!(answer.records.is_empty(), "{name} {rtype}: {answer:?}");
        assert_eq!(answer.ttl, None);
    }
    // A name outside the server's zones is refused by it: the server does not serve it.
    let err = dns_lookup(bind.addr, "example.org", "A", LOOKUP_TIMEOUT)
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "dns_unavailable");
    for rtype in ["ANY", "AXFR", "HINFO"] {
        let err = dns_lookup(bind.addr, "x.local", rtype, LOOKUP_TIMEOUT)
            .await
            .expect_err("unsupported type");
        assert_eq!(err.code(), "invalid_dns_query", "{rtype}");
    }
}

/// Runs the delete playbook with `vars` in check mode, then for real; both must succeed
/// and report a change.
async fn check_then_delete(
    ansible: &Ansible,
    vars: &Map<String, Value>,
    key: Key<'_>,
) -> (PlaybookOutcome, PlaybookOutcome) {
    let check = ansible
        .run(&dns_run(DELETE, vars, Some(key), true))
        .await
        .expect("check-mode delete");
    assert!(check.changed && !check.failed, "{check:?}");
    let deleted = ansible
        .run(&dns_run(DELETE, vars, Some(key), false))
        .await
        .expect("delete");
    assert!(deleted.changed && !deleted.failed, "{deleted:?}");
    (check, deleted)
}

/// dig's `+short` line in the lookup's presentation form: domain names without the
/// trailing dot (TXT is compared on its own: dig quotes each string).
fn dig_presentation(line: &str) -> String {
    line.split(' ')
        .map(|token| token.strip_suffix('.').unwrap_or(token))
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lookup_type_and_underscore_deletes_against_real_bind() {
    let bind = common::bind();
    // Records the playbooks do not create, seeded with nsupdate. The zone has no reverse
    // zone, so the PTR record sits at an ordinary name (the type is what is tested).
    bind.nsupdate(
        "local",
        &[
            "update add v6.local. 300 IN AAAA 2001:db8::1",
            "update add _acme-challenge.shop.local. 300 IN CNAME _acme-challenge.dns01.local.",
            "update add _dmarc.local. 300 IN TXT \"v=DMARC1; \" \"p=none\"",
            "update add _acme-challenge.www.local. 60 IN TXT \"token-1\"",
            // BIND refuses an MX whose exchange has no address.
            "update add mail.local. 300 IN A 127.0.0.2",
            "update add local. 300 IN MX 10 mail.local.",
            "update add _sip._tcp.local. 300 IN SRV 10 60 5060 sip.local.",
            "update add _sip._tcp.local. 300 IN SRV 20 0 5061 sip2.local.",
            "update add ptr.local. 300 IN PTR ns1.local.",
            "update add local. 300 IN CAA 0 issue \"letsencrypt.org\"",
        ],
    );
    let lookup = |name: &'static str, rtype: &'static str| async move {
        let answer = dns_lookup(bind.addr, name, rtype, LOOKUP_TIMEOUT)
            .await
            .unwrap_or_else(|e| panic!("lookup {name} {rtype}: {e}"));
        assert_eq!((answer.name.as_str(), answer.rtype.as_str()), (name, rtype));
        answer.records
    };

    // 1. Every type of the catalog's dns.lookup, rendered as documented on `DnsAnswer`,
    // and the same records dig sees.
    let expected: [(&str, &str, &[&str]); 9] = [
        ("ns1.local", "A", &["127.0.0.1"]),
        ("v6.local", "AAAA", &["2001:db8::1"]),
        (
            "_acme-challenge.shop.local",
            "CNAME",
            &["_acme-challenge.dns01.local"],
        ),
        ("local", "MX", &["10 mail.local"]),
        ("local", "NS", &["ns1.local"]),
        (
            "_sip._tcp.local",
            "SRV",
            &["10 60 5060 sip.local", "20 0 5061 sip2.local"],
        ),
        ("ptr.local", "PTR", &["ns1.local"]),
        ("local", "CAA", &["0 issue \"letsencrypt.org\""]),
        ("_dmarc.local", "TXT", &["v=DMARC1; p=none"]),
    ];
    for (name, rtype, records) in expected {
        assert_eq!(lookup(name, rtype).await, records, "{name} {rtype}");
        let dig = bind.dig(name, rtype);
        if rtype == "TXT" {
            assert_eq!(dig, ["\"v=DMARC1; \" \"p=none\""]);
        } else {
            // BIND rotates the order of an RRset between answers (round robin): compare sets.
            let mut dig: Vec<String> = dig.iter().map(|l| dig_presentation(l)).collect();
            dig.sort();
            let mut want: Vec<String> = records.iter().map(|r| r.to_string()).collect();
            want.sort();
            assert_eq!(dig, want, "dig {name} {rtype}");
        }
    }
    // The SOA's serial moves with every update: compare it with dig's.
    let soa = lookup("local", "SOA").await;
    assert_eq!(soa.len(), 1);
    assert!(
        soa[0].starts_with("ns1.local hostmaster.local ")
            && soa[0].ends_with(" 3600 600 86400 300"),
        "{soa:?}"
    );
    let dig_soa: Vec<String> = bind
        .dig("local", "SOA")
        .iter()
        .map(|l| dig_presentation(l))
        .collect();
    assert_eq!(soa, dig_soa);

    // 2. Deletes through the real playbook: SRV, TXT and CNAME records at underscore names.
    let tsig = bind.tsig();
    let (key_name, key_alg, key_secret) = (tsig.name, tsig.algorithm, tsig.secret);
    let key: Key<'_> = (&key_name, &key_alg, &key_secret);
    let tmp = tempfile::tempdir().expect("tmp");
    let ansible = ansible(
        &repo_root().join("deploy/ansible/playbooks"),
        120,
        tmp.path(),
    );
    let delete = |name: &str, rtype: &str, extra: Value| {
        let mut v = vars(&bind, json!({"record_name": name, "record_type": rtype}));
        v.extend(extra.as_object().expect("object").clone());
        v
    };

    // One SRV record by its value (the target name is absolute either way) ...
    let one = delete(
        "_sip._tcp.local",
        "SRV",
        json!({"record_value": "20 0 5061 sip2.local"}),
    );
    let (check, _) = check_then_delete(&ansible, &one, key).await;
    assert!(
        check
            .diff
            .contains("-_sip._tcp.local 300 IN SRV 20 0 5061 sip2.local\n")
            && !check
                .diff
                .contains("-_sip._tcp.local 300 IN SRV 10 60 5060"),
        "{}",
        check.diff
    );
    assert_eq!(
        bind.dig("_sip._tcp.local", "SRV"),
        ["10 60 5060 sip.local."]
    );

    // ... then the whole SRV set, as dns.delete_record does.
    let srv = delete("_sip._tcp.local", "SRV", json!({}));
    let (check, deleted) = check_then_delete(&ansible, &srv, key).await;
    assert_eq!(check.msg, "Record _sip._tcp.local SRV would be deleted");
    assert!(
        check
            .diff
            .contains("-_sip._tcp.local 300 IN SRV 10 60 5060 sip.local\n"),
        "{}",
        check.diff
    );
    assert_eq!(deleted.msg, "Record deleted");
    assert!(bind.dig("_sip._tcp.local", "SRV").is_empty());
    assert!(lookup("_sip._tcp.local", "SRV").await.is_empty());

    // A DMARC TXT record; the other underscore TXT record stays.
    let txt = delete("_dmarc.local", "TXT", json!({}));
    let (check, _) = check_then_delete(&ansible, &txt, key).await;
    assert!(
        check
            .diff
            .contains("-_dmarc.local 300 IN TXT \"v=DMARC1; \" \"p=none\"\n"),
        "{}",
        check.diff
    );
    assert!(bind.dig("_dmarc.local", "TXT").is_empty());
    assert!(lookup("_dmarc.local", "TXT").await.is_empty());
    assert_eq!(
        bind.dig("_acme-challenge.www.local", "TXT"),
        ["\"token-1\""]
    );

    // A DNS-01 delegation CNAME; deleting it again changes nothing.
    let cname = delete("_acme-challenge.shop.local", "CNAME", json!({}));
    check_then_delete(&ansible, &cname, key).await;
    assert!(bind.dig("_acme-challenge.shop.local", "CNAME").is_empty());
    let again = ansible
        .run(&dns_run(DELETE, &cname, Some(key), false))
        .await
        .expect("CNAME delete again");
    assert!(!again.changed, "{again:?}");
    assert_eq!(
        again.msg,
        "Record _acme-challenge.shop.local CNAME already absent"
    );

    assert_no_entries(tmp.path());
}
