//! `me`: the person the request acts for.

use chrono::{DateTime, Utc};
use juniper::{ID, graphql_object};

use super::context::Context;
use super::scalars::{id, utc};

pub struct Me;

/// The signed-in person (or the owner of the API token).
#[graphql_object(name = "User", context = Context)]
impl Me {
    fn id(ctx: &Context) -> ID {
        id(&ctx.user.id)
    }

    fn email(ctx: &Context) -> String {
        ctx.user.email.clone()
    }

    fn name(ctx: &Context) -> String {
        ctx.user.name.clone()
    }

    /// May open the admin pages.
    fn is_admin(ctx: &Context) -> bool {
        ctx.is_admin
    }

    fn created_at(ctx: &Context) -> DateTime<Utc> {
        utc(ctx.user.created_at)
    }
}
