//! The GraphQL API (juniper) at `/api/graphql`, on the same services as the pages: POST for
//! everything, GET for queries only, GraphiQL at `/api/graphiql` when the settings enable it. A
//! request reads as a recipe: read the body (capped) → who is asking → parse and validate against the
//! limits → refuse mutations on GET → execute with a fresh per-request context.

mod ai_usage;
mod api_tokens;
mod auth;
mod bulk;
mod categories;
mod context;
mod emails;
mod errors;
mod mailboxes;
mod mutation;
mod query;
mod scalars;
mod schema;
mod unsubscribe;
mod users;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use juniper::http::{GraphQLRequest, GraphQLResponse};
use juniper::{InputValue, OperationType, ValidatedOperation};
use serde::Deserialize;

pub use context::{Context, MAX_EMAILS_PER_REQUEST};
pub use schema::{MAX_TOKENS, Schema, build_schema, sdl};

use crate::error::AppError;
use crate::state::AppState;
use crate::web::extract::MaybeUser;
use errors::{Refusal, code};

/// The largest request body read: a selection of several thousand ids fits.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// `POST /api/graphql` with a JSON body `{query, operationName, variables}`.
pub async fn post(
    state: web::Data<AppState>,
    schema: web::Data<Schema>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let body = match read_body(&req, payload).await {
        Ok(body) => body,
        Err(refusal) => return refusal.response(),
    };
    let request: GraphQLRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            let message = format!("the body must be a JSON GraphQL request {{\"query\": …}}: {error}");
            return Refusal::new(StatusCode::BAD_REQUEST, code::BAD_REQUEST, message).response();
        }
    };
    run(&state, &schema, &req, request, true).await
}

#[derive(Deserialize)]
pub struct GetParams {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    /// JSON, as in a POST body.
    variables: Option<String>,
}

/// `GET /api/graphql?query=…&variables=…`: queries only, never mutations.
pub async fn get(
    state: web::Data<AppState>,
    schema: web::Data<Schema>,
    req: HttpRequest,
    params: web::Query<GetParams>,
) -> HttpResponse {
    let params = params.into_inner();
    let Some(query) = params.query.filter(|q| !q.trim().is_empty()) else {
        return Refusal::new(StatusCode::BAD_REQUEST, code::BAD_REQUEST, "give the query in `query`").response();
    };
    let variables = match params.variables.filter(|v| !v.trim().is_empty()) {
        None => None,
        Some(text) => match serde_json::from_str::<InputValue>(&text) {
            Ok(variables) => Some(variables),
            Err(error) => {
                let message = format!("`variables` must be a JSON object: {error}");
                return Refusal::new(StatusCode::BAD_REQUEST, code::BAD_REQUEST, message).response();
            }
        },
    };
    run(&state, &schema, &req, GraphQLRequest::new(query, params.operation_name, variables), false).await
}

async fn run(
    state: &AppState,
    schema: &Schema,
    req: &HttpRequest,
    request: GraphQLRequest,
    is_post: bool,
) -> HttpResponse {
    let user = match auth::authenticate(state, req).await {
        Ok(user) => user,
        Err(refusal) => return refusal.response(),
    };
    let operation = match ValidatedOperation::new(&request.query, request.operation_name.as_deref(), schema) {
        Ok(operation) => operation,
        Err(error) => return errors::document_error(&error),
    };
    if !is_post && operation.operation_type() == OperationType::Mutation {
        let refusal =
            Refusal::new(StatusCode::METHOD_NOT_ALLOWED, code::METHOD_NOT_ALLOWED, "send mutations with POST");
        let mut response = refusal.response();
        response.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return response;
    }
    let context = Context::new(state.clone(), user);
    match operation.execute(&request.variables(), &context).await {
        Ok(result) => HttpResponse::Ok().json(GraphQLResponse::from_result(Ok(result))),
        Err(error) => errors::document_error(&error),
    }
}

/// The body, refused past `MAX_BODY_BYTES` (counted after any decompression).
async fn read_body(req: &HttpRequest, mut payload: web::Payload) -> Result<web::BytesMut, Refusal> {
    let too_large = || {
        let message = format!("a request body may have at most {} KiB", MAX_BODY_BYTES / 1024);
        Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, code::PAYLOAD_TOO_LARGE, message)
    };
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| Refusal::new(StatusCode::BAD_REQUEST, code::BAD_REQUEST, "unreadable body"))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// GraphiQL loads its scripts and styles from esm.sh; nothing else may load or run.
const GRAPHIQL_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline' https://esm.sh; \
     style-src 'unsafe-inline' https://esm.sh; font-src https://esm.sh data:; img-src 'self' data: https://esm.sh; \
     connect-src 'self' https://esm.sh; worker-src blob: https://esm.sh; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";

/// `GET /api/graphiql`: not found unless enabled in the settings; for a signed-in person, whose
/// queries carry the session's CSRF token.
pub async fn graphiql(state: web::Data<AppState>, user: MaybeUser) -> Result<HttpResponse, AppError> {
    if !state.config.graphql.is_graphiql_enabled {
        return Err(AppError::NotFound);
    }
    let signed_in = user.0.ok_or(AppError::Unauthorized)?;
    let token = serde_json::to_string(&signed_in.session.csrf_token).map_err(AppError::internal)?;
    let source = juniper::http::graphiql::graphiql_source("/api/graphql", None);
    let marker = "url: JUNIPER_URL,";
    if !source.contains(marker) {
        return Err(AppError::internal(anyhow::anyhow!("juniper's GraphiQL page changed: the CSRF header is not set")));
    }
    let page = source.replacen(marker, &format!("{marker} headers: {{ 'X-CSRF-Token': {token} }},"), 1);
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", GRAPHIQL_POLICY))
        .body(page))
}
