//! What the test kits of both vendors share: a signed [`Delivery`].
//!
//! The samples and `deliver` functions live with each vendor:
//! [`smartcomply::testing`](crate::smartcomply::testing) and
//! [`smarterwx::testing`](crate::smarterwx::testing).

/// A delivery as the vendor sends it: the signature header's name and
/// value, and the body, byte for byte as signed.
///
/// Change the body or the header to test how a handler refuses a forged
/// delivery; the signature no longer matches then.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// The signature header's name, lowercase
    /// (`x-smartcomply-signature`, `x-swx-signature`).
    pub header_name: &'static str,
    /// The signature header's value.
    pub header: String,
    /// The body, compact JSON as the vendor writes it.
    pub body: String,
}

impl Delivery {
    /// `payload` as compact JSON, signed by `sign` in the header
    /// `header_name`.
    ///
    /// # Panics
    ///
    /// When `payload` cannot be written as JSON: a date or an instant
    /// outside the years 0000 to 9999, or an instant whose UTC offset has
    /// seconds. A delivery with an empty or partial body would test
    /// nothing.
    pub(crate) fn signed<T: serde::Serialize + ?Sized>(
        header_name: &'static str,
        payload: &T,
        sign: impl FnOnce(&[u8]) -> String,
    ) -> Self {
        let body = serde_json::to_string(payload)
            .unwrap_or_else(|e| panic!("the test kit cannot write this delivery as JSON: {e}"));
        Delivery {
            header_name,
            header: sign(body.as_bytes()),
            body,
        }
    }

    /// A `POST` of this delivery to `uri`, with its signature header and
    /// `content-type: application/json`, for `tower::ServiceExt::oneshot`
    /// on an axum `Router` (a `String` body is an `http_body::Body`).
    ///
    /// An error only when `uri` is not a URI, or a header was changed into
    /// text that no header can hold.
    ///
    /// Requires the `http` feature.
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub fn into_request<U>(self, uri: U) -> Result<http::Request<String>, http::Error>
    where
        http::Uri: TryFrom<U>,
        <http::Uri as TryFrom<U>>::Error: Into<http::Error>,
    {
        http::Request::post(uri)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(self.header_name, self.header)
            .body(self.body)
    }
}
