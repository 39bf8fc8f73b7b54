//! Security headers on every response (SECURITY.md "Transport and headers").

use axum::http::{HeaderValue, header};
use axum::response::Response;

/// The policy for HTML pages: our own scripts and styles only, never framed. Images may
/// also be `data:` URLs: the authenticator app's QR code is shown that way, as an image
/// (an SVG in an `<img>` runs no script and loads nothing).
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Adds HSTS, nosniff, a referrer policy, framing denial, a CSP on HTML, and `no-store`
/// on API answers and pages (`api`: the request's path is under `/api/`). Called by
/// the edge middleware on every answer, after [`super::json_errors::ensure_ours`].
pub fn apply(res: &mut Response, api: bool) {
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let h = res.headers_mut();
    // Room for all of them at once: the map grows once, not per insert.
    h.reserve(7);
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=63072000; includeSubDomains"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.remove(header::SERVER);
    if is_html {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    if api || is_html {
        // Answers about credentials are private: no shared or browser caching.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

#[cfg(test)]
mod tests {
    use super::CSP;

    #[test]
    fn the_policy_runs_no_inline_script_and_shows_data_images_only_besides_our_own() {
        let directive = |name: &str| {
            CSP.split(';')
                .map(str::trim)
                .find(|d| d.starts_with(&format!("{name} ")))
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(directive("script-src"), "script-src 'self'");
        assert!(!CSP.contains("unsafe-inline") && !CSP.contains("unsafe-eval"));
        // The authenticator app's QR code is an SVG shown as a data: image.
        assert_eq!(directive("img-src"), "img-src 'self' data:");
        assert_eq!(directive("default-src"), "default-src 'none'");
    }
}
