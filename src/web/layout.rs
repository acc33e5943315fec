//! `Layout`: what the base template needs on every page (who is signed in, the CSRF token, the nav).

use crate::services::auth::SignedIn;

#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub user_email: Option<String>,
    pub csrf: String,
    pub is_admin: bool,
}

impl Layout {
    pub fn anonymous() -> Self {
        Self::default()
    }

    pub fn signed_in(signed_in: &SignedIn, is_admin: bool) -> Self {
        Self { user_email: Some(signed_in.user.email.clone()), csrf: signed_in.session.csrf_token.clone(), is_admin }
    }
}
