//! QR codes for authenticator-app setup, drawn by the `qrcode` crate as an inline SVG
//! (no image stack, no external request: the URI carries the secret).

use gatehouse_core::Error as CoreError;

/// The QR code of `text` as an SVG document, sized for a phone camera at arm's length.
pub fn svg(text: &str) -> Result<String, CoreError> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(CoreError::internal)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build())
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_an_svg_document() {
        let s =
            super::svg("otpauth://totp/Gatehouse:alice?secret=JBSWY3DPEHPK3PXP&issuer=Gatehouse")
                .expect("svg");
        assert!(s.contains("<svg"), "{s}");
        assert!(s.contains("</svg>"));
        assert!(
            !s.contains("JBSWY3DPEHPK3PXP"),
            "the secret is drawn, not written"
        );
    }
}
