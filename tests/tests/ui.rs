//! The web console in a real browser: headless Chromium from Debian (`chromium`,
//! `chromium-driver`, installed by `bootstrap/test-env.sh`) driven over WebDriver
//! (fantoccini), against the real daemon, BIND and Ansible. Two browsers: the requester and
//! the approver never share a cookie. Screenshots of each page go to
//! `target/ui-screenshots/`.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns
// Starting chromedriver is the point of this file.
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;
use std::time::Duration;

use aiops_e2e::{APPROVER_TOKEN, Bind, Daemon, REQUESTER_TOKEN, config_for, with_identities};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// chromedriver on a free port, stopped on drop.
struct Driver {
    child: std::process::Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Driver {
        let bin = aiops_test_support::chromedriver().unwrap_or_else(|e| panic!("{e}"));
        let port = aiops_test_support::ports::free_port();
        let child = std::process::Command::new(bin)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromedriver runs");
        // Owned at once: stopped on drop, also when it never gets ready.
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        // Ready when it listens.
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("chromedriver did not listen on {port}");
    }

    /// A new browser (its own profile: no cookie is shared with another).
    async fn browser(&self) -> Client {
        let chromium = aiops_test_support::chromium().unwrap_or_else(|e| panic!("{e}"));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": chromium, "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=1200,1400"]}),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a browser session")
    }
}

/// Where the screenshots go: `target/ui-screenshots/` of the workspace.
fn shots() -> PathBuf {
    let dir = aiops_e2e::aiopsd_binary()
        .parent()
        .and_then(|p| p.parent())
        .map(|t| t.join("ui-screenshots"))
        .unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(b: &Client, name: &str) {
    let png = b.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(shots().join(format!("{name}.png")), png).unwrap();
}

/// Clicks the element `at` finds.
async fn click(b: &Client, at: Locator<'_>) {
    b.find(at).await.unwrap().click().await.unwrap();
}

async fn sign_in(b: &Client, d: &Daemon, token: &str) {
    b.goto(&format!("{}/ui/login", d.url)).await.unwrap();
    b.find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys(token)
        .await
        .unwrap();
    click(b, Locator::Css("form button[type=submit]")).await;
    // Signed in: the ask page.
    b.wait().for_element(Locator::Id("nl")).await.unwrap();
}

async fn ask(b: &Client, d: &Daemon, nl: &str) -> String {
    b.goto(&format!("{}/ui/ask", d.url)).await.unwrap();
    let field = b.find(Locator::Id("nl")).await.unwrap();
    field.send_keys(nl).await.unwrap();
    click(b, Locator::Css("main form button[type=submit]")).await;
    b.wait().for_element(Locator::Id("result")).await.unwrap();
    b.source().await.unwrap()
}

async fn run_reviewed(b: &Client) -> String {
    click(b, Locator::Css("form[action='/ui/ask/run'] button")).await;
    // The request's page.
    b.wait().for_element(Locator::Id("timeline")).await.unwrap();
    b.source().await.unwrap()
}

/// The request id of the page the browser is on (`/ui/requests/{id}`).
async fn request_id(b: &Client) -> String {
    let url = b.current_url().await.unwrap();
    url.path()
        .strip_prefix("/ui/requests/")
        .unwrap_or_else(|| panic!("on a request page: {url}"))
        .to_string()
}

/// The newest request's id.
async fn latest_request(d: &Daemon) -> String {
    let (_, list) = d.get("/api/v1/intents?limit=500").await;
    list["intents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .max()
        .unwrap()
}

/// BIND, a daemon wired to it with the test identities, and chromedriver.
async fn stack() -> (Bind, tempfile::TempDir, Daemon, Driver) {
    let bind = Bind::start().expect("BIND starts");
    let data = tempfile::tempdir().unwrap();
    let d = Daemon::start(with_identities(config_for(&bind, data.path())))
        .await
        .expect("daemon starts");
    (bind, data, d, Driver::start().await)
}

fn stages(rec: &Value) -> Vec<String> {
    aiops_e2e::stages(rec)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_review_run_approve_in_two_browsers() {
    let (bind, _data, d, driver) = stack().await;
    let alice = driver.browser().await;
    let bob = driver.browser().await;

    // Sign in with a token: a session cookie, not the token, from then on.
    alice.goto(&format!("{}/ui/login", d.url)).await.unwrap();
    shot(&alice, "login").await;
    sign_in(&alice, &d, REQUESTER_TOKEN).await;

    // Ask for a dry run: the parse, the decision and its reasons, the plan.
    let page = ask(&alice, &d, "add dns record web.local to 10.0.50.5").await;
    assert!(page.contains("dns.create_a_record"), "{page}");
    assert!(page.contains("dry_run"), "{page}");
    assert!(page.contains("10.0.50.5"), "{page}");
    assert!(page.contains("Run this plan"), "{page}");
    shot(&alice, "ask-dry-run").await;
    assert!(
        bind.dig("web.local", "A").is_empty(),
        "a dry run changes nothing"
    );

    // Run exactly the reviewed plan: the record resolves.
    run_reviewed(&alice).await;
    let created = request_id(&alice).await;
    let rec = d.wait_status(&created, &["success", "failed"], 60).await;
    assert_eq!(rec["status"], "success", "{rec:#}");
    assert_eq!(bind.dig("web.local", "A"), ["10.0.50.5"]);

    // A destructive change waits for a human.
    let page = ask(&alice, &d, "delete dns record web.local").await;
    assert!(page.contains("subject to approval"), "{page}");
    run_reviewed(&alice).await;
    let deleting = request_id(&alice).await;
    let rec = d.record(&deleting).await;
    assert_eq!(rec["status"], "pending_approval", "{rec:#}");

    // The approver, in another browser, finds it in the inbox with its diff and approves.
    sign_in(&bob, &d, APPROVER_TOKEN).await;
    bob.goto(&format!("{}/ui/approvals", d.url)).await.unwrap();
    bob.wait()
        .for_element(Locator::Id("approvals"))
        .await
        .unwrap();
    let inbox = bob.source().await.unwrap();
    assert!(inbox.contains("dns.delete_record"), "{inbox}");
    assert!(
        inbox.contains("<span class=\"del\">-web.local"),
        "the inbox shows the pending plan's diff: {inbox}"
    );
    shot(&bob, "inbox").await;
    click(&bob, Locator::LinkText("dns.delete_record")).await;
    if bob
        .wait()
        .for_element(Locator::Id("approval"))
        .await
        .is_err()
    {
        panic!(
            "no approval page at {}: {}",
            bob.current_url().await.unwrap(),
            bob.source().await.unwrap()
        );
    }
    let detail = bob.source().await.unwrap();
    assert!(
        detail.contains("class=\"del\""),
        "removals are marked: {detail}"
    );
    shot(&bob, "approval").await;
    // An approver answers from a phone: the same page at a phone's width.
    bob.set_window_size(390, 844).await.unwrap();
    shot(&bob, "approval-phone").await;
    bob.set_window_size(1200, 1400).await.unwrap();
    bob.find(Locator::Id("reason"))
        .await
        .unwrap()
        .send_keys("checked with the owners")
        .await
        .unwrap();
    click(&bob, Locator::Css("button[value=approve]")).await;
    let rec = d.wait_status(&deleting, &["success", "failed"], 120).await;
    assert_eq!(rec["status"], "success", "{rec:#}");
    assert!(bind.dig("web.local", "A").is_empty());

    // The timeline shows every stage of the executed request.
    alice
        .goto(&format!("{}/ui/requests/{deleting}", d.url))
        .await
        .unwrap();
    let timeline = alice.source().await.unwrap();
    for stage in stages(&rec) {
        let (name, outcome) = stage.split_once(':').unwrap();
        assert!(
            timeline.contains(name) && timeline.contains(outcome),
            "{stage} in {timeline}"
        );
    }
    assert!(
        stages(&rec)
            .iter()
            .any(|s| s == "approve:approved" || s.starts_with("execute")),
        "{rec:#}"
    );
    shot(&alice, "timeline").await;

    // Audit: the list and the chain's verification.
    alice
        .goto(&format!("{}/ui/audit?verify=1", d.url))
        .await
        .unwrap();
    let audit = alice.source().await.unwrap();
    assert!(audit.contains("The audit chain verifies"), "{audit}");
    assert!(
        audit.contains(&deleting) && audit.contains(&created),
        "{audit}"
    );
    shot(&alice, "audit").await;

    alice.close().await.unwrap();
    bob.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_forms_are_refused_and_injected_script_does_not_run() {
    let (_bind, _data, d, driver) = stack().await;
    let b = driver.browser().await;
    sign_in(&b, &d, REQUESTER_TOKEN).await;

    // A sentence carrying a script: shown as text, never run (the engine escapes it and the
    // policy forbids scripts anyway).
    let page = ask(
        &b,
        &d,
        "<script>document.title='pwned'</script> add dns record x.local to 10.0.60.6",
    )
    .await;
    assert!(
        page.contains("&lt;script&gt;"),
        "escaped, at {}: {page}",
        b.current_url().await.unwrap()
    );
    assert!(!page.contains("<script>document.title"), "{page}");
    let title = b.title().await.unwrap();
    assert_ne!(title, "pwned");
    let ran: Value = b.execute("return document.title", vec![]).await.unwrap();
    assert_ne!(ran, json!("pwned"));

    // A form posted without this session's token (as another site's form would be) is
    // refused, and nothing is submitted.
    let cookie = b.get_named_cookie("aiops_session").await.unwrap();
    let forged = d
        .anonymous
        .post(format!("{}/ui/ask", d.url))
        .header("cookie", format!("aiops_session={}", cookie.value()))
        .form(&[
            ("nl", "add dns record forged.local to 10.0.60.7"),
            ("csrf", "0000"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    let headers = forged.headers().clone();
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let (_, list) = d.get("/api/v1/intents").await;
    assert!(
        !list.to_string().contains("forged.local"),
        "nothing was submitted: {list:#}"
    );
    // A reviewed plan that no longer holds is not run: here someone created the record
    // between the dry run and the click, so the plan would now change nothing.
    let page = ask(&b, &d, "add dns record moved.local to 10.0.60.8").await;
    assert!(page.contains("Run this plan"), "{page}");
    d.intent_expect("add dns record moved.local to 10.0.60.8", 200, "success")
        .await;
    click(&b, Locator::Css("form[action='/ui/ask/run'] button")).await;
    b.wait()
        .for_element(Locator::Css("p.notice.bad"))
        .await
        .unwrap();
    let changed = b.source().await.unwrap();
    assert!(changed.contains("The plan changed"), "{changed}");
    let rec = d.record(&latest_request(&d).await).await;
    assert_eq!(rec["status"], "failed", "{rec:#}");
    assert_eq!(rec["error"]["code"], "plan_changed", "{rec:#}");
    assert!(
        !aiops_e2e::stages(&rec)
            .iter()
            .any(|s| s.starts_with("execute")),
        "nothing executed: {rec:#}"
    );

    // The session cookie is HttpOnly and SameSite=Strict.
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.same_site().map(|s| s.is_strict()), Some(true));

    // Signing out ends the session on the server: the old cookie opens nothing.
    click(&b, Locator::Css("form[action='/ui/logout'] button")).await;
    b.wait().for_element(Locator::Id("token")).await.unwrap();
    let after = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/ui/ask", d.url))
        .header("cookie", format!("aiops_session={}", cookie.value()))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status().as_u16(), 303, "back to sign-in");
    assert_eq!(after.headers()["location"], "/ui/login");
    b.close().await.unwrap();
}

/// Under mTLS the sign-in page offers the certificate's user; signing in as it gives a
/// `Secure` session cookie. (The browser tests speak plain HTTP; this one is an HTTP client
/// with the dev PKI's client certificate.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_signs_in_with_a_secure_cookie() {
    let pki = aiops_e2e::Pki::new().unwrap();
    let bind = Bind::start().expect("BIND starts");
    let data = tempfile::tempdir().unwrap();
    let cfg = aiops_e2e::with_alice_certificate(config_for(&bind, data.path()));
    let d = Daemon::start_mtls(cfg, &pki).await.unwrap();
    let page = d
        .anonymous
        .get(format!("{}/ui/login", d.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Sign in as alice (client certificate)"),
        "{page}"
    );
    let resp = reqwest_no_redirects(&pki)
        .post(format!("{}/ui/login", d.url))
        .form(&[("certificate", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303, "{:?}", resp.headers());
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    for part in [
        "aiops_session=",
        "HttpOnly",
        "SameSite=Strict",
        "Secure",
        "Path=/ui",
    ] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
}

fn reqwest_no_redirects(pki: &aiops_e2e::Pki) -> reqwest::Client {
    pki.client_builder()
        .unwrap()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `ops.ask` in the console: the answer, and passages that link to the cited runbook
/// section.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_links_to_the_runbook_sections_it_cites() {
    let bind = Bind::start().expect("BIND starts");
    let data = tempfile::tempdir().unwrap();
    let cfg = aiops_e2e::with_retrieval(with_identities(config_for(&bind, data.path())), None);
    let d = Daemon::start(cfg).await.expect("daemon starts");
    let doc = "# TSIG keys\n\n## Rotating the TSIG key\n\nGenerate a new key with tsig-keygen, store it in the secret store, reload BIND, then retire the old key.\n";
    let (code, body) = d
        .post_as(
            aiops_e2e::ADMIN_TOKEN,
            "/api/v1/documents",
            json!({"documents": [{"path": "dns/tsig.md", "text": doc}]}),
        )
        .await;
    assert_eq!(code, 200, "{body:#}");
    let driver = Driver::start().await;
    let b = driver.browser().await;
    sign_in(&b, &d, REQUESTER_TOKEN).await;
    let page = ask(&b, &d, "how do I rotate the TSIG key?").await;
    assert!(page.contains("answered"), "{page}");
    assert!(page.contains("tsig-keygen"), "the answer: {page}");
    shot(&b, "ask-answer").await;
    click(&b, Locator::Css("ol.passages a")).await;
    let section = b
        .wait()
        .for_element(Locator::Css("section h2"))
        .await
        .unwrap();
    assert!(
        section
            .text()
            .await
            .unwrap()
            .contains("Rotating the TSIG key")
    );
    let url = b.current_url().await.unwrap();
    assert!(url.fragment().is_some_and(|f| f.starts_with("c-")), "{url}");
    b.close().await.unwrap();
    d.stop().await;
}
