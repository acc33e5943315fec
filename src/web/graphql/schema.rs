//! The schema: the query and mutation roots with the document limits (depth, fields, tokens) and
//! introspection set from the settings, built once at start; and its SDL, published as
//! `schema.graphql` at the repository root.

use juniper::{EmptySubscription, RootNode};

use super::context::Context;
use super::mutation::Mutation;
use super::query::Query;
use crate::config::GraphqlConfig;

pub type Schema = RootNode<Query, Mutation, EmptySubscription<Context>>;

/// Tokens a document may have: bounds the time to parse and validate it. GraphiQL's introspection
/// query fits easily (a test below checks it against these limits).
pub const MAX_TOKENS: usize = 5_000;

pub fn build_schema(config: &GraphqlConfig) -> Schema {
    let schema = Schema::new(Query, Mutation, EmptySubscription::new())
        .limit_depth(config.max_depth)
        .limit_fields(config.max_fields)
        .limit_tokens(MAX_TOKENS);
    if config.is_introspection_enabled { schema } else { schema.disable_introspection() }
}

/// The schema in the GraphQL schema language, sorted type-then-name, so it diffs well.
pub fn sdl() -> String {
    Schema::new(Query, Mutation, EmptySubscription::new()).as_sdl()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{
        DEFAULT_GRAPHQL_MAX_DEPTH, DEFAULT_GRAPHQL_MAX_DEPTH_WITH_INTROSPECTION, DEFAULT_GRAPHQL_MAX_FIELDS,
    };

    /// The query GraphiQL and code generators send (juniper's copy of graphql-js's).
    const INTROSPECTION: &str = include_str!("../../../tests/fixtures/graphql/introspection.graphql");

    fn schema(is_introspection_enabled: bool, max_depth: usize) -> Schema {
        let config = GraphqlConfig {
            is_graphiql_enabled: false,
            is_introspection_enabled,
            max_depth,
            max_fields: DEFAULT_GRAPHQL_MAX_FIELDS,
        };
        build_schema(&config)
    }

    #[test]
    fn the_introspection_query_fits_the_limits_while_introspection_is_on_and_not_otherwise() {
        let on = schema(true, DEFAULT_GRAPHQL_MAX_DEPTH_WITH_INTROSPECTION);
        assert!(juniper::ValidatedOperation::new(INTROSPECTION, None, &on).is_ok());
        let off = schema(false, DEFAULT_GRAPHQL_MAX_DEPTH);
        assert!(juniper::ValidatedOperation::new(INTROSPECTION, None, &off).is_err());
        let shallow_but_on = schema(true, DEFAULT_GRAPHQL_MAX_DEPTH);
        assert!(juniper::ValidatedOperation::new("{ __schema { queryType { name } } }", None, &shallow_but_on).is_ok());
        let off = schema(false, DEFAULT_GRAPHQL_MAX_DEPTH_WITH_INTROSPECTION);
        assert!(juniper::ValidatedOperation::new("{ __schema { queryType { name } } }", None, &off).is_err());
    }
}
