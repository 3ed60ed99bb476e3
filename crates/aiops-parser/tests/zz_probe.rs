#[test]
fn probe() {
    let text = std::fs::read_to_string("/tmp/probe.txt").unwrap_or_default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match aiops_parser::parse(line) {
            aiops_parser::ParseOutcome::Intent(p) => println!("{:<70} => {} {} ({})", line, p.action, serde_json::Value::Object(p.params), p.confidence),
            aiops_parser::ParseOutcome::Unrecognized { reason } => println!("{:<70} => UNREC: {}", line, reason),
        }
    }
}
