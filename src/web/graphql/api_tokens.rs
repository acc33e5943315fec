//! Personal API tokens: `apiTokens`, `createApiToken` (the only time the token is shown) and
//! `revokeApiToken`.

use chrono::{DateTime, Utc};
use juniper::{GraphQLObject, ID, graphql_object};

use super::context::Context;
use super::scalars::{id, utc};
use crate::db::api_tokens::ApiToken;
use crate::error::AppError;
use crate::services::api_tokens;

pub struct ApiTokenNode(pub ApiToken);

/// A personal API token (its secret is never shown again after creation).
#[graphql_object(name = "ApiToken", context = Context)]
impl ApiTokenNode {
    fn id(&self) -> ID {
        id(&self.0.id)
    }

    fn name(&self) -> String {
        self.0.name.clone()
    }

    fn created_at(&self) -> DateTime<Utc> {
        utc(self.0.created_at)
    }

    /// To the minute.
    fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at.map(utc)
    }
}

#[derive(GraphQLObject)]
#[graphql(context = Context)]
pub struct CreatedApiToken {
    /// Send as `Authorization: Bearer <token>`. Shown only now: store it safely.
    pub token: String,
    pub api_token: ApiTokenNode,
}

pub async fn list(ctx: &Context) -> Result<Vec<ApiTokenNode>, AppError> {
    let tokens = ctx.db(api_tokens::list).await?;
    Ok(tokens.into_iter().map(ApiTokenNode).collect())
}

pub async fn create(ctx: &Context, name: String) -> Result<CreatedApiToken, AppError> {
    let now = ctx.now;
    let created = ctx.db(move |conn, user_id| api_tokens::create(conn, user_id, &name, now)).await?;
    tracing::info!(user_id = ctx.user.id, token_id = created.token.id, "API token created");
    Ok(CreatedApiToken { token: created.plaintext, api_token: ApiTokenNode(created.token) })
}

pub async fn revoke(ctx: &Context, token_id: ID) -> Result<ID, AppError> {
    let revoked = token_id.to_string();
    ctx.db(move |conn, user_id| api_tokens::revoke(conn, user_id, &revoked)).await?;
    tracing::info!(user_id = ctx.user.id, token_id = %token_id, "API token revoked");
    Ok(token_id)
}
