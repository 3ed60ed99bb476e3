//! The DNS playbooks against a real BIND 9 through real ansible-playbook:
//! check mode, add, idempotent re-add, delete, bad key; all verified with `dns_lookup`.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use aiops_exec::{PlaybookRun, dns_lookup};
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
    let ansible = ansible(&playbooks, 120, Some(tmp.path()));
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
    let err = dns_lookup(bind.addr, "x.local", "MX", LOOKUP_TIMEOUT)
        .await
        .expect_err("unsupported type");
    assert_eq!(err.code(), "invalid_dns_query");
}
