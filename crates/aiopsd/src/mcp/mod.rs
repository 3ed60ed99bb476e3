//! The MCP server: the catalog as tools for any agent, through the same gates.
//!
//! Each parseable catalog action is one tool (`dns.create_a_record` → `dns_create_a_record`)
//! whose input schema is the action's own JSON Schema plus `dry_run`, which defaults to true
//! for change and destructive actions: an agent asks for a real run explicitly. A call is a
//! request like `POST /api/v1/intent` with the caller's identity and parser `mcp`: the
//! arguments are checked against the schema (the safety boundary: extra or invalid
//! arguments are a tool error, never a guess), then decide, plan, approval, credentials,
//! execute, verify and audit, exactly as for a sentence. `pending_approval` is a normal
//! result with the approval id; `get_request` reads a request back.
//!
//! Served over Streamable HTTP at `/mcp` on the daemon's listener, behind the API's own
//! authentication (the `Caller` the middleware put in the request's extensions reaches each
//! call through rmcp's copy of the HTTP request parts). Which tools a caller sees and may
//! call is policy's `access_decision` on `intents.submit.<risk>`, the same question the
//! decide stage asks.

use std::borrow::Cow;
use std::sync::Arc;

use aiops_api::IntentResponse;
use aiops_core::{ActionSpec, Caller, ParserKind, Risk};
use aiops_policy::Operation;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, GetPromptRequestParams,
    GetPromptResponse, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse,
    ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{Map, Value, json};

use crate::AppState;

mod follow;
mod prompts;
mod resources;
pub mod stdio;

/// The tool that reads a request back (an approval's outcome, a verification).
const GET_REQUEST: &str = "get_request";

/// The tool that shows the secrets' metadata (never a value).
const VAULT_METADATA: &str = "vault_metadata";

/// The MCP server of one session: the app it submits to.
#[derive(Clone)]
pub struct AiopsMcp {
    state: AppState,
}

impl AiopsMcp {
    pub fn new(state: AppState) -> Self {
        AiopsMcp { state }
    }

    /// The authenticated caller of this MCP request, as the API middleware found it.
    fn caller(ctx: &RequestContext<RoleServer>) -> Result<Caller, McpError> {
        ctx.extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Caller>())
            .cloned()
            .ok_or_else(|| McpError::invalid_request("no authenticated caller", None))
    }

    /// Whether policy lets `caller` submit requests of `risk`: which tools they see.
    fn may_submit(&self, caller: &Caller, risk: Risk) -> bool {
        self.may(caller, Operation::submit(risk))
    }

    /// Runbooks are what `ops.ask` reads: a caller who may ask may read them.
    fn may_read_runbooks(&self, ctx: &RequestContext<RoleServer>) -> Result<(), McpError> {
        let caller = Self::caller(ctx)?;
        if self.may_submit(&caller, Risk::Read) {
            Ok(())
        } else {
            Err(McpError::invalid_request(
                "policy does not let this caller read runbooks",
                None,
            ))
        }
    }

    /// Whether policy lets `caller` run `operation`.
    fn may(&self, caller: &Caller, operation: Operation) -> bool {
        self.state.permit(caller, operation).is_ok()
    }

    fn tools_for(&self, caller: &Caller) -> Vec<Tool> {
        let mut tools: Vec<Tool> = self
            .state
            .catalog
            .parseable()
            .filter(|spec| self.may_submit(caller, spec.risk))
            .map(tool_of)
            .collect();
        tools.push(get_request_tool());
        if self.may(caller, Operation::SecretsMetadata) {
            tools.push(vault_metadata_tool());
        }
        tools
    }

    /// The metadata of every secret the catalog's actions use (or of the one `path` names):
    /// versions and the last rotation, from the configured source. Never a value: the
    /// source reads only metadata, and a failure says why in the source's own words, which
    /// never quote a secret.
    async fn vault_metadata(&self, arguments: &Map<String, Value>) -> CallToolResult {
        // Sorted and distinct already.
        let mut paths = self.state.executors.all_secret_paths(&self.state.catalog);
        match arguments.get("path") {
            None => {}
            Some(Value::String(p)) if paths.contains(p) => paths.retain(|q| q == p),
            Some(other) => {
                return tool_error(
                    "invalid_params",
                    format!("`path` must be one of {paths:?}, not {other}"),
                );
            }
        }
        let mut entries = Vec::new();
        let mut lines = Vec::new();
        for path in paths {
            match self.state.secrets.metadata(&path).await {
                Ok(m) => {
                    lines.push(format!(
                        "{path}: {} version {}, last rotated {}",
                        m.source,
                        m.version.map_or("-".into(), |v| v.to_string()),
                        m.last_rotated.as_deref().unwrap_or("unknown")
                    ));
                    entries.push(json!(m));
                }
                Err(e) => {
                    lines.push(format!("{path}: {e}"));
                    entries.push(json!({"path": path, "source": self.state.secrets.kind(),
                                        "error": {"code": e.code(), "message": e.to_string()}}));
                }
            }
        }
        let mut result = CallToolResult::structured(json!({ "secrets": entries }));
        result.content = vec![rmcp::model::ContentBlock::text(lines.join("\n"))];
        result
    }

    /// The action a tool name names, if this caller may call it.
    fn action_of(&self, name: &str, caller: &Caller) -> Option<ActionSpec> {
        self.state
            .catalog
            .parseable()
            .find(|spec| tool_name(spec) == name)
            .filter(|spec| self.may_submit(caller, spec.risk))
            .cloned()
    }

    async fn call_action(
        &self,
        spec: ActionSpec,
        arguments: Map<String, Value>,
        caller: Caller,
        ctx: &RequestContext<RoleServer>,
    ) -> CallToolResult {
        let mut params = arguments;
        let dry_run = match params.remove("dry_run") {
            None => spec.risk != Risk::Read,
            Some(Value::Bool(b)) => b,
            Some(other) => {
                return tool_error(
                    "invalid_params",
                    format!("`dry_run` must be a boolean, not {other}"),
                );
            }
        };
        let intent =
            match self
                .state
                .catalog
                .validate(spec.name.as_str(), &params, ParserKind::Mcp, 1.0)
            {
                Ok(intent) => intent,
                Err(e) => return tool_error(e.code().as_str(), e.to_string()),
            };
        let state = self.state.clone();
        // Its own task, like an HTTP submission: a client that goes away does not cancel an
        // execution half-way.
        let run = tokio::spawn(async move {
            crate::pipeline::submit_call(&state, intent, dry_run, caller).await
        })
        .await;
        match run {
            Ok(Ok(resp)) if resp.status == aiops_core::RequestStatus::PendingApproval => {
                match follow::follow(&self.state, ctx, &resp).await {
                    Some(record) => record_result(&record),
                    None => answered(&resp),
                }
            }
            Ok(Ok(resp)) => answered(&resp),
            Ok(Err(f)) => tool_error(f.code.as_str(), f.message),
            Err(_) => tool_error("internal", "internal error".to_string()),
        }
    }

    async fn get_request(&self, arguments: &Map<String, Value>) -> CallToolResult {
        let Some(id) = arguments.get("id").and_then(Value::as_str) else {
            return tool_error("invalid_params", "`id` (a request id) is required".into());
        };
        match crate::records::intent_record(&self.state, id).await {
            Ok(Some(rec)) => record_result(&rec),
            Ok(None) => tool_error("not_found", format!("no request {id}")),
            Err(f) => tool_error(f.code.as_str(), f.message),
        }
    }
}

impl ServerHandler for AiopsMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_instructions(
            "aiops: each tool is one catalog action, checked by policy, planned with a dry \
             run, approved by a human where policy says so, and audited. Change tools dry-run \
             unless you pass dry_run=false; read the plan first. A pending_approval result \
             carries the approval id: poll get_request with the request id. The runbooks are \
             resources; the plan_change prompt walks through a change.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let caller = Self::caller(&ctx)?;
        Ok(ListToolsResult::with_all_items(self.tools_for(&caller)))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let caller = Self::caller(&ctx)?;
        let arguments = request.arguments.unwrap_or_default();
        if request.name == GET_REQUEST {
            return Ok(self.get_request(&arguments).await.into());
        }
        if request.name == VAULT_METADATA && self.may(&caller, Operation::SecretsMetadata) {
            return Ok(self.vault_metadata(&arguments).await.into());
        }
        let Some(spec) = self.action_of(&request.name, &caller) else {
            return Ok(tool_error(
                "unknown_action",
                format!("no tool `{}` for this caller", request.name),
            )
            .into());
        };
        Ok(self.call_action(spec, arguments, caller, &ctx).await.into())
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        self.may_read_runbooks(&ctx)?;
        let cursor = request.as_ref().and_then(|r| r.cursor.as_deref());
        resources::list(&self.state, cursor).await
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        self.may_read_runbooks(&ctx)?;
        Ok(resources::templates())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        self.may_read_runbooks(&ctx)?;
        Ok(resources::read(&self.state, &request.uri).await?.into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(prompts::list())
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        Ok(prompts::get(&request.name, request.arguments.as_ref())?.into())
    }
}

/// `dns.create_a_record` → `dns_create_a_record` (MCP tool names avoid dots).
fn tool_name(spec: &ActionSpec) -> String {
    spec.name.as_str().replace('.', "_")
}

/// The tool of one action: its schema plus `dry_run`, its description with the risk class.
fn tool_of(spec: &ActionSpec) -> Tool {
    let mut schema = spec.schema.as_object().cloned().unwrap_or_default();
    let dry_run_default = spec.risk != Risk::Read;
    if let Some(Value::Object(props)) = schema.get_mut("properties") {
        props.insert(
            "dry_run".into(),
            json!({"type": "boolean", "default": dry_run_default,
                   "description": "Plan only, change nothing (the default for changes: pass false to run it)."}),
        );
    }
    let description = format!("{} Risk: {}.", spec.description, spec.risk.as_str());
    let annotations = ToolAnnotations::new()
        .read_only(spec.risk == Risk::Read)
        .destructive(spec.risk == Risk::Destructive)
        // Reads change nothing; the DNS and Kubernetes changes converge on a state, so
        // repeating them changes nothing more. A restart or a playbook run does act again.
        .idempotent(
            matches!(
                spec.name,
                aiops_core::ActionId::DnsCreateARecord
                    | aiops_core::ActionId::DnsDeleteRecord
                    | aiops_core::ActionId::K8sScaleDeployment
                    | aiops_core::ActionId::K8sExposeService
            ) || spec.risk == Risk::Read,
        );
    let mut tool = Tool::new(
        Cow::Owned(tool_name(spec)),
        Cow::Owned(description),
        Arc::new(schema),
    );
    tool.annotations = Some(annotations);
    tool
}

fn get_request_tool() -> Tool {
    reader_tool(
        GET_REQUEST,
        "Read a request back: its status (e.g. after an approval), timeline and verification.",
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["id"],
            "properties": {"id": {"type": "string", "description": "The request id a tool call answered."}}
        }),
    )
}

fn vault_metadata_tool() -> Tool {
    reader_tool(
        VAULT_METADATA,
        "The secrets the actions use: path, source, version and last rotation. Metadata only: \
         never a secret's value.",
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {"path": {"type": "string", "description": "One secret path (default: every path the actions use)."}}
        }),
    )
}

/// A tool of this server's own (not a catalog action) that only reads.
fn reader_tool(name: &'static str, description: &'static str, schema: Value) -> Tool {
    let mut tool = Tool::new(
        name,
        description,
        Arc::new(schema.as_object().cloned().unwrap_or_default()),
    );
    tool.annotations = Some(
        ToolAnnotations::new()
            .read_only(true)
            .destructive(false)
            .idempotent(true),
    );
    tool
}

/// A stored request (its status, timeline, verification) as a tool result.
fn record_result(rec: &aiops_api::IntentRecord) -> CallToolResult {
    let text = format!("request {}: {}", rec.id, rec.status);
    let mut result = CallToolResult::structured(json!(rec));
    result.content = vec![rmcp::model::ContentBlock::text(text)];
    result
}

/// A request's outcome as a tool result: the response as structured content, a line of
/// text; a failed request is a tool error (its `error` says why).
fn answered(resp: &IntentResponse) -> CallToolResult {
    let mut text = format!("{}: request {}", resp.status, resp.id);
    if let Some(intent) = &resp.intent {
        text.push_str(&format!(" ({})", intent.action));
    }
    if let Some(approval) = &resp.approval {
        text.push_str(&format!(
            "; waiting for approval {} ({} approver(s)); poll get_request",
            approval.id, approval.approvals_required
        ));
    }
    if let Some(plan) = &resp.plan {
        text.push_str(&format!("\nplan:\n{}", plan.diff));
    }
    if let Some(v) = &resp.verification {
        text.push_str(&format!("\nverification: {}", v.outcome));
    }
    if let Some(answer) = &resp.answer {
        text.push_str(&format!("\nanswer:\n{answer}"));
    }
    // The passages behind an answer (or any request's context), as citations.
    for passage in &resp.context {
        let field = |k: &str| passage.get(k).and_then(Value::as_str).unwrap_or_default();
        text.push_str(&format!(
            "\n[{}] {} › {}",
            field("chunk_id"),
            field("doc"),
            field("heading")
        ));
    }
    if let Some(e) = &resp.error {
        text.push_str(&format!("\nerror: {} ({})", e.message, e.code));
    }
    let value = json!(resp);
    let mut result = if resp.status == aiops_core::RequestStatus::Failed {
        CallToolResult::structured_error(value)
    } else {
        CallToolResult::structured(value)
    };
    result.content = vec![rmcp::model::ContentBlock::text(text)];
    result
}

fn tool_error(code: &str, message: String) -> CallToolResult {
    let mut result =
        CallToolResult::structured_error(json!({"error": {"code": code, "message": message}}));
    result.content = vec![rmcp::model::ContentBlock::text(format!(
        "{message} ({code})"
    ))];
    result
}

/// `[mcp]`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct McpConfig {
    /// Serve MCP at `/mcp` (behind the API's authentication).
    pub enabled: bool,
    /// `Host` values the MCP endpoint answers (DNS-rebinding protection); add the names
    /// clients reach the appliance by.
    pub allowed_hosts: Vec<String>,
    /// How long a call that waits for approval stays open when the client asked for
    /// progress (`follow.rs`); 0: answer `pending_approval` at once. Capped by the API's
    /// request timeout.
    pub approval_wait_secs: u64,
}

impl Default for McpConfig {
    fn default() -> Self {
        McpConfig {
            enabled: true,
            allowed_hosts: ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec(),
            approval_wait_secs: 120,
        }
    }
}

/// The Streamable HTTP service of `/mcp`. Stateless (no MCP session kept in this process),
/// so any replica answers any request.
pub fn service(
    state: AppState,
) -> rmcp::transport::StreamableHttpService<
    AiopsMcp,
    rmcp::transport::streamable_http_server::session::local::LocalSessionManager,
> {
    let mut config = rmcp::transport::StreamableHttpServerConfig::default()
        .with_allowed_hosts(state.config.mcp.allowed_hosts.clone());
    config.legacy_session_mode = false;
    // Answers stream as server-sent events, so a call can send progress notifications
    // before its result (a plain JSON answer could carry the result only).
    config.json_response = false;
    rmcp::transport::StreamableHttpService::new(
        move || Ok(AiopsMcp::new(state.clone())),
        Arc::default(),
        config,
    )
}
