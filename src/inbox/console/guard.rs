//! The console's guard: one admin token, as a bearer token or as the HTTP
//! Basic password, compared in constant time.

use std::fmt;

use ::axum::Router;
use ::axum::extract::{Request, State};
use ::axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use ::axum::http::{HeaderMap, HeaderValue, StatusCode};
use ::axum::middleware::{self, Next};
use ::axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The challenge of a `401`: a browser asks for a user name and a
/// password, and sends the password as the token.
const CHALLENGE: &str = "Basic realm=\"inbox console\", charset=\"UTF-8\"";

/// The text of a `401`.
const UNAUTHORIZED: &str = "401: the inbox console needs its admin token, \
     as a bearer token or as the HTTP Basic password";

/// The one secret that opens the [console](super): a request carries it
/// as `Authorization: Bearer <token>`, or as the password of
/// `Authorization: Basic ..` with any user name (so that a browser can
/// open the page). [`AdminToken::guard`] answers every other request
/// `401` with `WWW-Authenticate: Basic`.
///
/// Only a SHA-256 digest of the token is kept, and a presented token is
/// compared digest to digest in constant time: neither its bytes nor its
/// length leak through timing. `Debug` shows nothing of it.
///
/// ```
/// use axum::http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
/// use utility_webhooks::inbox::console::AdminToken;
///
/// let token = AdminToken::new("s3cret-admin-token").expect("not empty");
/// let mut headers = HeaderMap::new();
/// headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer s3cret-admin-token"));
/// assert!(token.allows(&headers));
/// // "admin:s3cret-admin-token", as a browser sends it.
/// headers.insert(
///     AUTHORIZATION,
///     HeaderValue::from_static("Basic YWRtaW46czNjcmV0LWFkbWluLXRva2Vu"),
/// );
/// assert!(token.allows(&headers));
/// headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer guess"));
/// assert!(!token.allows(&headers));
/// ```
#[derive(Clone)]
#[cfg_attr(docsrs, doc(cfg(all(feature = "axum", feature = "postgres"))))]
pub struct AdminToken {
    digest: [u8; 32],
}

impl AdminToken {
    /// The token `token`; `None` when it is empty (an empty password would
    /// open the console to anyone).
    pub fn new(token: &str) -> Option<AdminToken> {
        if token.is_empty() {
            return None;
        }
        Some(AdminToken {
            digest: Sha256::digest(token.as_bytes()).into(),
        })
    }

    /// Whether `headers` carry the token: `Authorization: Bearer <token>`,
    /// or `Authorization: Basic <base64 of user:token>` with any user name.
    /// The scheme's name is read in any case.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(AUTHORIZATION) else {
            return false;
        };
        let value = value.as_bytes();
        let Some(space) = value.iter().position(|&b| b == b' ') else {
            return false;
        };
        let (scheme, credentials) = (&value[..space], value[space + 1..].trim_ascii());
        let presented: [u8; 32] = if scheme.eq_ignore_ascii_case(b"bearer") {
            Sha256::digest(credentials).into()
        } else if scheme.eq_ignore_ascii_case(b"basic") {
            let Ok(pair) = base64::engine::general_purpose::STANDARD.decode(credentials) else {
                return false;
            };
            let Some(colon) = pair.iter().position(|&b| b == b':') else {
                return false;
            };
            Sha256::digest(&pair[colon + 1..]).into()
        } else {
            return false;
        };
        presented.ct_eq(&self.digest).into()
    }

    /// `router`, with every request that does not carry the token answered
    /// `401` before it reaches a route: the console in one line.
    ///
    /// ```no_run
    /// # async fn example(inbox: utility_webhooks::inbox::Inbox) {
    /// use utility_webhooks::inbox::console::{self, AdminToken};
    ///
    /// let token = std::env::var("INBOX_ADMIN_TOKEN").unwrap_or_default();
    /// let mut app = axum::Router::new();
    /// if let Some(token) = AdminToken::new(&token) {
    ///     app = app.nest_service("/inbox", token.guard(console::router(inbox)));
    /// }
    /// # let _: axum::Router = app;
    /// # }
    /// ```
    pub fn guard<S>(&self, router: Router<S>) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        router.layer(middleware::from_fn_with_state(self.clone(), admitted))
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

/// The guard's middleware: on to the route with the token, `401` without.
async fn admitted(State(token): State<AdminToken>, request: Request, next: Next) -> Response {
    if token.allows(request.headers()) {
        return next.run(request).await;
    }
    let mut response = (StatusCode::UNAUTHORIZED, UNAUTHORIZED).into_response();
    let headers = response.headers_mut();
    headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(CHALLENGE));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn with(value: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_bytes(value).unwrap());
        headers
    }

    fn basic(pair: &[u8]) -> HeaderMap {
        let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
        with(format!("Basic {encoded}").as_bytes())
    }

    #[test]
    fn the_token_opens_as_bearer_or_basic_password_and_nothing_else_does() {
        let token = AdminToken::new("tok:en with space").unwrap();
        assert!(token.allows(&with(b"Bearer tok:en with space")));
        assert!(token.allows(&with(b"bearer   tok:en with space ")));
        assert!(token.allows(&basic(b"admin:tok:en with space")));
        assert!(token.allows(&basic(b":tok:en with space")));
        for refused in [
            &b"Bearer tok:en with spac"[..],
            b"Bearer tok:en with space!",
            b"Bearer",
            b"Bearer ",
            b"Token tok:en with space",
            b"tok:en with space",
            b"Basic !!!not base64",
            b"Basic dG9rOmVuIHdpdGggc3BhY2U=", // "tok:en with space": the user is "tok"
        ] {
            assert!(
                !token.allows(&with(refused)),
                "{}",
                String::from_utf8_lossy(refused)
            );
        }
        assert!(!token.allows(&basic(b"tok:en with space")));
        assert!(!token.allows(&basic(b"no colon")));
        assert!(!token.allows(&HeaderMap::new()));
        assert!(AdminToken::new("").is_none());
        assert_eq!(format!("{token:?}"), "AdminToken(..)");
    }

    proptest! {
        #[test]
        fn only_the_exact_token_opens(token in "[ -~]{1,40}", other in "[ -~]{0,40}", user in "[ -~&&[^:]]{0,12}") {
            let admin = AdminToken::new(&token).unwrap();
            // Spaces around a bearer token are the header's, not the token's.
            prop_assert_eq!(admin.allows(&with(format!("Bearer {token}").as_bytes())), token.trim() == token);
            let pair = format!("{user}:{token}");
            prop_assert!(admin.allows(&basic(pair.as_bytes())));
            prop_assert_eq!(admin.allows(&basic(format!("{user}:{other}").as_bytes())), other == token);
        }
    }
}
