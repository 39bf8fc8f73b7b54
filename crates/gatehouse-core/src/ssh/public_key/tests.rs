//! The parser's rules, one test per refusal, and a mutation test that it never panics.

use super::*;

// Generated with `ssh-keygen -t <type> [-b <bits>] -N '' -C <comment>`; the
// fingerprints and sizes are what `ssh-keygen -lf` prints for each line.
const ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHYdMikMO23RWEmc+8gkzuCssVbppnz0SA+p8eLxFivb alice@laptop";
const ED25519_FP: &str = "SHA256:0LTW1exAUOgg/drBWOZveDig2BOBIX7zrupB+ClvWuU";
const P256: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBDtdrz3LzexbKUWZuVQXRyarPElYV9B9IC90v8icSvXVwF/R1cZbdj5HFDWFNcY+HFlIFsfy9UvolA1auVKveaU= bob@host";
const P256_FP: &str = "SHA256:0xX6HWrl81398oSUbWY7IDHub772jbuYLiD8K+QX6eA";
const P384: &str = "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBK+o5LTvMSZgINf1k/Mlmb6y3y2LKgEcCBY9jVyUTXmLTgZf9D1w+I/rQuYHe+lCaAnGfb2xtQp9mCbQWB42BMGd5hWIbTJWbN0FlaDh8g2TYy8CRMqFz1TgOoRdFYlFNQ== carol@host";
const P384_FP: &str = "SHA256:MzOdDn8Z44WBIuGIp1tmF+TIKcs5hQw2y7dYU+e3LJE";
const P521: &str = "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAFkx0I2E8ABRmd2xO5M3C5NHrnasnqO4+ItCB9KvAxND3f2YokBXmVBTrFKcnNlbNW1ypcRGXJASI9wmJm7iceZLAABDCl6+M4ORCEcwS4QKdPCNIOBWPscl9araKeKoxejtCJFIqYe63+92/LbMiZmhWVtUA3ce5PhG7uO2AgLf+NjRw== dave@host";
const P521_FP: &str = "SHA256:XRjH4bgDKI7wdVEVpegCZ+KEQQjZ0jJch8Y0iZFy4To";
const RSA2048: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC14tqtsQctiQvxCT8MzgR+Ls58+XwRhzmPCsnF51GJ3UFNKZ37nKhsA2yg2NWaHEV7LgD1RMcSDrP5KsWpWrZaO49aEcylISmybgLiZzSjjvelTtP8hNjUM9+F9KebKsebkcJhCTcgX30UDdqNhC83RhzjrWnOM2xef4jV0EOe3lgd8MxmxAJRo0Q93DJtCEC9juW3+Ard8uskkhc/5eSmLnG4gIv8dh/2VA4M2rx8e+5yP7bTaJakTml5YMWCSgCFkrlxi1DxRIGJbsWP/gn7ifigWW34vbQ2Xgn9+jJ6Zr2ouj9l1jpJPuzg8YTTD4x1HNUnW3Re1hHbAM2/VX03 erin@host";
const RSA2048_FP: &str = "SHA256:2IFEXB/i9epo5g9ZND6WY7f94POT+zFsuNyuqfsmK0g";
const RSA3072: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQCURgZp6oihxmQobWiIqMEIx44anD8ecNXCy5yXwB66ESifko5Lt4C5LWgGn12DyWVFB4pZuhqBU0A6FGlsn6rTyYWee/SEqXsS0NS9PmqpJz8Y631cLxi6byX4t4KbIbdcQBy/yNZRHlhyzCQFg2LTWTgRkXiiCfzc9Y2adsMccjny5cUCbtpxk1B4/Ojqftmkehhuu9/OMKL3n49k0UACxQ/tiNT+dQse/Q/qwKp/Fs7Ux2aD7IlT/y1hTZLa4xVBFQubiVKoVR+6HgVWdQk8jm/2gI9cZWo5rKMKzceMr7moBeJgBSTi1f0yEYOjN7pZ6cXAi5cxcrZG785yg9/bYYpaGNafdgf/Yc/OQVdJtI+8AmeSXyL9sRR/rHRLv5VR3MdhdTi7H/btJd2OELOsM2vPlUp3UQFujPihDCagaNMrn0CgPa6+fOqpkhlwg4BvjAGvf32nZ/706nViQfA3h08wQTL0oIzqS30JAuUsWZ9hRS4us3xsRX1HASwVV20= frank@host";
const RSA3072_FP: &str = "SHA256:fRPJauJg6iQ2gRUrMI2sPx4+3wu1Kk8aqTHTjl9VS1Q";
const RSA1024: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC1LhYHpSqZoQKCW9VrlVHqHjQ28RVpImwY+/Zy1en92+5RHP1GkuMZI1UWDjWvcdY8Ja2nU5oefBK7buBiU7/ZsOb+pAWC/T5yI8UcCve61Es8zo9yJDGyMHTTXm7aeyPSkaO6m+t2kAcmSPOYyowRQeo0p92vLRRXTtNFZ6fgcw== weak@host";
const DSA: &str = "ssh-dss AAAAB3NzaC1kc3MAAACBAOfFqjenfMaZ2KWO6BBqPpOaZE0j1fgppHyufPxOF9sim+ftO++jGfPpUMcSkQlF6IZINByT5ORx16F4z+VK7vh8hu/lnbZPdcVWHJZMvpV4sK4Zzny84ubPWZeXvkrMCOJsdw0EZv6qoY8IUGIGDqxBtWGIq3hjyOt3VcdSDEPJAAAAFQCfzTyFw25i68IC9BU/ljAgjhkY5QAAAIBSVm5xiYRTCCV1yWBsR5QtcIyKTSyHWF6GrRqVxKh2fCleaMmxy7Wj0mKMX3DJyHRPopfeyjrjEv2j2a/FpR0bYtuagloqRnuYRwrJqFpw2gxUBW+TpCakO65c1qVL0SrlfrtA7N1tLEQp1RbLQNJpNH/d5KdRFncrA9jMtTTUuQAAAIBoZNl9jRsgebjdCcuW0EQmJpy7okoVM0pf5yUgvUKdZjG/2BU5KBYzA7rdrIsJvU4g+dl3RYyy6y3BenIUyzj0Azp1SaKk7+ycSDhq9O6MlY7Srzoc3JZFuZQWEP17eQlBvJAXopS8AezCLpE/uIXU7kFDvxdtuLKOyeIcX5Qj8g== old@host";

// Security-key blobs built by `sk_ed25519_line` / `sk_ecdsa_line` below (the key and
// point of the fixtures above, application "ssh:"); fingerprints from `ssh-keygen -lf`.
const SK_ED25519_FP: &str = "SHA256:M8oy1CbRmw1z7HHiKFMdtxIkpxFdNvJwOW+B1vOXQ/0";
const SK_ECDSA_FP: &str = "SHA256:N2BJVxOdyT5bdIPh8H/zinHWeWzHC8r4DQKfJVJGrPs";

/// SSH wire strings, concatenated.
fn wire(fields: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for field in fields {
        let len = u32::try_from(field.len()).expect("field fits a u32");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(field);
    }
    out
}

fn line(type_name: &str, blob: &[u8], comment: &str) -> String {
    format!("{type_name} {} {comment}", STANDARD.encode(blob))
        .trim_end()
        .to_owned()
}

fn blob_of(fixture: &str) -> Vec<u8> {
    let data = fixture.split(' ').nth(1).expect("base64 field");
    STANDARD.decode(data).expect("fixture base64")
}

fn ed25519_key_bytes() -> Vec<u8> {
    let blob = blob_of(ED25519);
    blob[blob.len() - 32..].to_vec()
}

fn p256_point() -> Vec<u8> {
    let blob = blob_of(P256);
    blob[blob.len() - 65..].to_vec()
}

fn sk_ed25519_line() -> String {
    let blob = wire(&[b"sk-ssh-ed25519@openssh.com", &ed25519_key_bytes(), b"ssh:"]);
    line("sk-ssh-ed25519@openssh.com", &blob, "yubi@desk")
}

fn sk_ecdsa_line() -> String {
    let blob = wire(&[
        b"sk-ecdsa-sha2-nistp256@openssh.com",
        b"nistp256",
        &p256_point(),
        b"ssh:",
    ]);
    line("sk-ecdsa-sha2-nistp256@openssh.com", &blob, "yubi@desk")
}

/// An RSA blob with exponent 65537 and the given modulus mpint bytes.
fn rsa_line(modulus: &[u8]) -> String {
    line("ssh-rsa", &wire(&[b"ssh-rsa", &[1, 0, 1], modulus]), "")
}

fn parse_ok(input: &str) -> SshPublicKey {
    match SshPublicKey::parse(input) {
        Ok(key) => key,
        Err(e) => panic!("{input:?} should parse: {e}"),
    }
}

fn parse_err(input: &str) -> SshKeyError {
    match SshPublicKey::parse(input) {
        Ok(key) => panic!("{input:?} should be refused, got {key:?}"),
        Err(e) => e,
    }
}

fn malformed(key_type: KeyType, problem: BlobProblem) -> SshKeyError {
    SshKeyError::Malformed { key_type, problem }
}

#[test]
fn golden_keys_match_ssh_keygen() {
    let cases = [
        (ED25519, KeyType::Ed25519, 256, ED25519_FP, "alice@laptop"),
        (P256, KeyType::EcdsaP256, 256, P256_FP, "bob@host"),
        (P384, KeyType::EcdsaP384, 384, P384_FP, "carol@host"),
        (P521, KeyType::EcdsaP521, 521, P521_FP, "dave@host"),
        (RSA2048, KeyType::Rsa, 2048, RSA2048_FP, "erin@host"),
        (RSA3072, KeyType::Rsa, 3072, RSA3072_FP, "frank@host"),
    ];
    for (input, key_type, bits, fingerprint, comment) in cases {
        let key = parse_ok(input);
        assert_eq!(key.key_type(), key_type, "{input}");
        assert_eq!(key.bits(), bits, "{input}");
        assert_eq!(key.fingerprint(), fingerprint, "{input}");
        assert_eq!(key.comment(), comment, "{input}");
        assert_eq!(key.blob(), blob_of(input).as_slice());
        assert_eq!(key.authorized_keys_line(), input);
    }
}

#[test]
fn security_keys_match_ssh_keygen() {
    let key = parse_ok(&sk_ed25519_line());
    assert_eq!(key.key_type(), KeyType::SkEd25519);
    assert_eq!(key.bits(), 256);
    assert_eq!(key.fingerprint(), SK_ED25519_FP);
    assert_eq!(key.comment(), "yubi@desk");

    let key = parse_ok(&sk_ecdsa_line());
    assert_eq!(key.key_type(), KeyType::SkEcdsaP256);
    assert_eq!(key.bits(), 256);
    assert_eq!(key.fingerprint(), SK_ECDSA_FP);
}

#[test]
fn type_names_are_the_openssh_ones() {
    let names: Vec<_> = KeyType::ALL.iter().map(KeyType::as_str).collect();
    assert_eq!(
        names,
        [
            "ssh-ed25519",
            "ecdsa-sha2-nistp256",
            "ecdsa-sha2-nistp384",
            "ecdsa-sha2-nistp521",
            "ssh-rsa",
            "sk-ssh-ed25519@openssh.com",
            "sk-ecdsa-sha2-nistp256@openssh.com",
        ]
    );
    for t in KeyType::ALL {
        assert_eq!(KeyType::from_name(t.as_str()), Some(t));
        assert_eq!(t.to_string(), t.as_str());
    }
}

#[test]
fn surrounding_spaces_and_one_trailing_line_break_are_tolerated() {
    for input in [
        format!("  {ED25519}  "),
        format!("{ED25519}\n"),
        format!("{ED25519}\r\n"),
        format!("   {ED25519}   \n"),
    ] {
        assert_eq!(parse_ok(&input).fingerprint(), ED25519_FP, "{input:?}");
    }
}

#[test]
fn empty_input_is_refused() {
    for input in ["", "   ", "\n", "\r\n", " \t \n"] {
        assert_eq!(parse_err(input), SshKeyError::Empty, "{input:?}");
    }
}

#[test]
fn oversized_input_is_refused_before_anything_else() {
    let huge = "a".repeat(MAX_INPUT_LEN + 1);
    assert_eq!(parse_err(&huge), SshKeyError::TooLong { len: huge.len() });

    // Checked first: a huge private key or control character still reports the size.
    let private = format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{huge}");
    assert!(matches!(parse_err(&private), SshKeyError::TooLong { .. }));
    let padded = format!("{ED25519} {}\0", "x".repeat(MAX_INPUT_LEN));
    assert!(matches!(parse_err(&padded), SshKeyError::TooLong { .. }));

    // Exactly at the limit is fine (the long comment is cut).
    let fill = MAX_INPUT_LEN - ED25519.len() - 1;
    let at_limit = format!("{ED25519} {}", "c".repeat(fill));
    assert_eq!(at_limit.len(), MAX_INPUT_LEN);
    assert_eq!(
        parse_ok(&at_limit).comment().chars().count(),
        MAX_COMMENT_CHARS
    );
}

#[test]
fn pasted_private_keys_are_refused() {
    let inputs = [
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----\n",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----",
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: me\n",
    ];
    for input in inputs {
        let err = parse_err(input);
        assert_eq!(err, SshKeyError::PrivateKey, "{input:?}");
        assert_eq!(
            err.to_string(),
            "this is a private key; paste the contents of the .pub file"
        );
    }
}

#[test]
fn ssh2_and_pem_public_keys_are_refused_with_a_conversion_hint() {
    let inputs = [
        "---- BEGIN SSH2 PUBLIC KEY ----\nComment: \"me\"\nAAAAC3NzaC1lZDI1NTE5AAAAIHYd\n---- END SSH2 PUBLIC KEY ----\n",
        "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----",
    ];
    for input in inputs {
        let err = parse_err(input);
        assert_eq!(err, SshKeyError::ForeignFormat, "{input:?}");
        assert!(err.to_string().contains("ssh-keygen -i"));
    }
}

#[test]
fn line_breaks_and_control_characters_are_refused() {
    let inputs = [
        format!("{ED25519}\n{P256}"),
        format!("{ED25519}\n{P256}\n"),
        format!("{ED25519}\n\n"),
        format!("{ED25519}\r"),
        format!("{ED25519}\n "),
        format!("\n{ED25519}"),
        ED25519.replacen(' ', "\n", 1),
        ED25519.replacen(' ', "\t", 1),
        format!("{ED25519} evil\ncommand=\"sh\" {P256}"),
        format!("{ED25519}\0"),
        format!("{ED25519} bob\u{7f}"),
        format!("{ED25519} bob\u{85}"),
        format!("{ED25519} bob\u{2028}"),
        format!("{ED25519} bob\u{202E}kcatta"),
        format!("\u{FEFF}{ED25519}"),
    ];
    for input in inputs {
        assert_eq!(
            parse_err(&input),
            SshKeyError::ControlCharacter,
            "{input:?}"
        );
    }
}

#[test]
fn authorized_keys_options_are_refused() {
    let inputs = [
        format!("command=\"echo hi\" {ED25519}"),
        format!("from=\"10.0.0.0/8\" {ED25519}"),
        format!("no-pty,no-port-forwarding {ED25519}"),
        format!("restrict {ED25519}"),
        format!("NO-X11-FORWARDING {ED25519}"),
        format!("environment=\"A=b\",pty {ED25519}"),
    ];
    for input in inputs {
        let err = parse_err(&input);
        assert_eq!(err, SshKeyError::OptionsNotAllowed, "{input:?}");
        assert!(err.to_string().contains("options"));
    }
}

#[test]
fn a_line_without_its_type_is_refused() {
    let data = ED25519.split(' ').nth(1).expect("data");
    assert_eq!(parse_err(data), SshKeyError::MissingKeyType);
    assert_eq!(
        parse_err(&format!("{data} alice@laptop")),
        SshKeyError::MissingKeyType
    );
}

#[test]
fn dsa_keys_are_refused() {
    let err = parse_err(DSA);
    assert_eq!(err, SshKeyError::Dsa);
    assert_eq!(
        err.to_string(),
        "DSA keys are not accepted; generate an Ed25519 key with \"ssh-keygen -t ed25519\""
    );
    assert_eq!(
        parse_err("ssh-dss-cert-v01@openssh.com AAAA"),
        SshKeyError::Dsa
    );
}

#[test]
fn short_rsa_keys_are_refused_with_their_size() {
    let err = parse_err(RSA1024);
    assert_eq!(err, SshKeyError::RsaTooSmall { bits: 1024 });
    assert!(err.to_string().contains("1024 bits"), "{err}");
}

#[test]
fn rsa_size_counts_bits_not_bytes() {
    let mut modulus = vec![0u8; 257];
    // 0x00 sign byte, then a top byte of 0x80: exactly 2048 bits.
    modulus[1] = 0x80;
    assert_eq!(parse_ok(&rsa_line(&modulus)).bits(), 2048);

    // Extra leading zero bytes do not count.
    let mut padded = vec![0u8; 3];
    padded.extend_from_slice(&modulus);
    assert_eq!(parse_ok(&rsa_line(&padded)).bits(), 2048);

    // 256 bytes whose top byte is 0x01: 2041 bits, too few.
    let mut short = vec![0u8; 256];
    short[0] = 0x01;
    assert_eq!(
        parse_err(&rsa_line(&short)),
        SshKeyError::RsaTooSmall { bits: 2041 }
    );

    let mut huge = vec![0u8; 2050];
    huge[1] = 0x01;
    assert_eq!(
        parse_err(&rsa_line(&huge)),
        SshKeyError::RsaTooLarge { bits: 16385 }
    );
}

#[test]
fn unknown_types_and_certificates_are_refused() {
    let data = ED25519.split(' ').nth(1).expect("data");
    for name in [
        "ssh-ed448",
        "ssh-ed25519-cert-v01@openssh.com",
        "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "rsa-sha2-256",
        "SSH-ED25519",
        "hello",
    ] {
        assert_eq!(
            parse_err(&format!("{name} {data}")),
            SshKeyError::UnsupportedType(name.to_owned())
        );
    }
    let long = "x".repeat(100);
    match parse_err(&long) {
        SshKeyError::UnsupportedType(shown) => {
            assert_eq!(shown.chars().count(), MAX_ECHO_CHARS + 1);
            assert!(shown.ends_with('…'));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_type_without_data_is_refused() {
    for input in ["ssh-ed25519", "ssh-ed25519   ", "ssh-rsa\n"] {
        assert!(
            matches!(parse_err(input), SshKeyError::MissingKeyData(_)),
            "{input:?}"
        );
    }
}

#[test]
fn malformed_base64_is_refused() {
    let unpadded = P256.replace("= ", " ");
    // The P-256 blob's last base64 group carries two unused bits; setting one makes
    // the encoding non-canonical.
    let noncanonical = P256.replace("aU= ", "aV= ");
    let inputs = [
        "ssh-ed25519 not*base64".to_owned(),
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHYd?".to_owned(),
        unpadded,
        noncanonical,
        "ssh-ed25519 A".to_owned(),
        "ssh-ed25519 ====".to_owned(),
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHYdMikMO23RWEmc+8gkzuCssVbppnz0SA-p8eLxFivb"
            .to_owned(),
    ];
    for input in inputs {
        assert_eq!(parse_err(&input), SshKeyError::InvalidBase64, "{input:?}");
    }
}

#[test]
fn the_type_inside_the_blob_must_match_the_line() {
    let data = ED25519.split(' ').nth(1).expect("data");
    let err = parse_err(&format!("ssh-rsa {data}"));
    assert_eq!(
        err,
        SshKeyError::TypeMismatch {
            declared: KeyType::Rsa,
            inner: "ssh-ed25519".to_owned()
        }
    );
    assert!(err.to_string().contains("ssh-rsa"));

    let sk = sk_ed25519_line().replacen("sk-ssh-ed25519@openssh.com", "ssh-ed25519", 1);
    assert!(matches!(
        parse_err(&sk),
        SshKeyError::TypeMismatch {
            declared: KeyType::Ed25519,
            ..
        }
    ));

    // Binary junk in the inner type is made printable before it is shown.
    let junk = wire(&[b"\0\n\xff", &ed25519_key_bytes()]);
    match parse_err(&line("ssh-ed25519", &junk, "")) {
        SshKeyError::TypeMismatch { inner, .. } => {
            assert!(!inner.chars().any(is_forbidden_char), "{inner:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn blobs_that_do_not_fit_their_type_are_refused() {
    let key = ed25519_key_bytes();
    let point = p256_point();
    let truncated = {
        let blob = blob_of(ED25519);
        blob[..blob.len() - 1].to_vec()
    };
    let trailing = {
        let mut blob = blob_of(ED25519);
        blob.push(0);
        blob
    };
    let compressed = {
        let mut p = point[..33].to_vec();
        p[0] = 0x02;
        p
    };
    let bad_prefix = {
        let mut p = point.clone();
        p[0] = 0x05;
        p
    };
    let cases: Vec<(String, SshKeyError)> = vec![
        (
            line("ssh-ed25519", &truncated, ""),
            malformed(KeyType::Ed25519, BlobProblem::Truncated),
        ),
        (
            line("ssh-ed25519", &trailing, ""),
            malformed(KeyType::Ed25519, BlobProblem::TrailingBytes),
        ),
        (
            line("ssh-ed25519", &wire(&[b"ssh-ed25519"]), ""),
            malformed(KeyType::Ed25519, BlobProblem::Truncated),
        ),
        (
            line("ssh-ed25519", &wire(&[b"ssh-ed25519", &key[..31]]), ""),
            malformed(
                KeyType::Ed25519,
                BlobProblem::WrongKeyLength {
                    expected: 32,
                    actual: 31,
                },
            ),
        ),
        (
            line("ssh-ed25519", &[0, 0, 0], ""),
            malformed(KeyType::Ed25519, BlobProblem::Truncated),
        ),
        (
            line("ssh-ed25519", &[0xff, 0xff, 0xff, 0xff, b's'], ""),
            malformed(KeyType::Ed25519, BlobProblem::Truncated),
        ),
        (
            line(
                "ecdsa-sha2-nistp256",
                &wire(&[b"ecdsa-sha2-nistp256", b"nistp384", &point]),
                "",
            ),
            malformed(KeyType::EcdsaP256, BlobProblem::CurveMismatch),
        ),
        (
            line(
                "ecdsa-sha2-nistp256",
                &wire(&[b"ecdsa-sha2-nistp256", b"nistp256", &compressed]),
                "",
            ),
            malformed(KeyType::EcdsaP256, BlobProblem::PointNotUncompressed),
        ),
        (
            line(
                "ecdsa-sha2-nistp256",
                &wire(&[b"ecdsa-sha2-nistp256", b"nistp256", &bad_prefix]),
                "",
            ),
            malformed(KeyType::EcdsaP256, BlobProblem::PointNotUncompressed),
        ),
        (
            line(
                "ecdsa-sha2-nistp384",
                &wire(&[b"ecdsa-sha2-nistp384", b"nistp384", &point]),
                "",
            ),
            malformed(
                KeyType::EcdsaP384,
                BlobProblem::WrongKeyLength {
                    expected: 97,
                    actual: 65,
                },
            ),
        ),
        (
            line(
                "ecdsa-sha2-nistp521",
                &wire(&[b"ecdsa-sha2-nistp521", b"nistp521", b""]),
                "",
            ),
            malformed(
                KeyType::EcdsaP521,
                BlobProblem::WrongKeyLength {
                    expected: 133,
                    actual: 0,
                },
            ),
        ),
        (
            line(
                "sk-ssh-ed25519@openssh.com",
                &wire(&[b"sk-ssh-ed25519@openssh.com", &key]),
                "",
            ),
            malformed(KeyType::SkEd25519, BlobProblem::Truncated),
        ),
        (
            line(
                "sk-ssh-ed25519@openssh.com",
                &wire(&[b"sk-ssh-ed25519@openssh.com", &key, b"ssh:\0x"]),
                "",
            ),
            malformed(KeyType::SkEd25519, BlobProblem::InvalidApplication),
        ),
        (
            line(
                "sk-ecdsa-sha2-nistp256@openssh.com",
                &wire(&[b"sk-ecdsa-sha2-nistp256@openssh.com", b"nistp521", &point]),
                "",
            ),
            malformed(KeyType::SkEcdsaP256, BlobProblem::CurveMismatch),
        ),
        (
            line(
                "sk-ecdsa-sha2-nistp256@openssh.com",
                &wire(&[
                    b"sk-ecdsa-sha2-nistp256@openssh.com",
                    b"nistp256",
                    &point,
                    b"ssh:",
                    b"",
                ]),
                "",
            ),
            malformed(KeyType::SkEcdsaP256, BlobProblem::TrailingBytes),
        ),
        (
            line("ssh-rsa", &wire(&[b"ssh-rsa", b"", &[0x7f; 257]]), ""),
            malformed(KeyType::Rsa, BlobProblem::MissingNumber),
        ),
        (
            line("ssh-rsa", &wire(&[b"ssh-rsa", &[0, 0], &[0x7f; 257]]), ""),
            malformed(KeyType::Rsa, BlobProblem::MissingNumber),
        ),
        (
            line("ssh-rsa", &wire(&[b"ssh-rsa", &[1, 0, 1], b""]), ""),
            malformed(KeyType::Rsa, BlobProblem::MissingNumber),
        ),
        (
            line(
                "ssh-rsa",
                &wire(&[b"ssh-rsa", &[1, 0, 1], &[0x80; 256]]),
                "",
            ),
            malformed(KeyType::Rsa, BlobProblem::NegativeNumber),
        ),
        (
            line("ssh-rsa", &wire(&[b"ssh-rsa", &[1, 0, 1]]), ""),
            malformed(KeyType::Rsa, BlobProblem::Truncated),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(parse_err(&input), expected, "{input}");
    }
    let msg = malformed(
        KeyType::Ed25519,
        BlobProblem::WrongKeyLength {
            expected: 32,
            actual: 31,
        },
    )
    .to_string();
    assert!(msg.contains("31 bytes long instead of 32"), "{msg}");
}

#[test]
fn comments_are_normalised() {
    let data = ED25519.split(' ').nth(1).expect("data");
    let cases = [
        (format!("ssh-ed25519 {data}"), ""),
        (format!("ssh-ed25519 {data}   "), ""),
        (
            format!("ssh-ed25519   {data}   alice   at  laptop  "),
            "alice at laptop",
        ),
        (format!("ssh-ed25519 {data} a\u{a0}\u{3000} b"), "a b"),
        (
            format!("ssh-ed25519 {data} jürgen@büro 🔑 鍵"),
            "jürgen@büro 🔑 鍵",
        ),
    ];
    for (input, comment) in cases {
        let key = parse_ok(&input);
        assert_eq!(key.comment(), comment, "{input:?}");
        if comment.is_empty() {
            assert_eq!(key.authorized_keys_line(), format!("ssh-ed25519 {data}"));
        }
    }
}

#[test]
fn long_comments_are_cut_on_a_character_boundary() {
    let data = ED25519.split(' ').nth(1).expect("data");
    let key = parse_ok(&format!("ssh-ed25519 {data} {}", "é".repeat(300)));
    assert_eq!(key.comment(), "é".repeat(MAX_COMMENT_CHARS));

    // A cut that lands just after a space leaves no trailing space.
    let comment = format!("{} tail", "a".repeat(MAX_COMMENT_CHARS - 1));
    let key = parse_ok(&format!("ssh-ed25519 {data} {comment}"));
    assert_eq!(key.comment(), "a".repeat(MAX_COMMENT_CHARS - 1));
}

#[test]
fn authorized_keys_lines_round_trip() {
    let inputs = [
        ED25519.to_owned(),
        P256.to_owned(),
        P384.to_owned(),
        P521.to_owned(),
        RSA2048.to_owned(),
        RSA3072.to_owned(),
        sk_ed25519_line(),
        sk_ecdsa_line(),
        format!("  {ED25519}   with  spaces  \r\n"),
        format!("{P256} ünïcödé   comment"),
    ];
    for input in inputs {
        let key = parse_ok(&input);
        let line = key.authorized_keys_line();
        assert!(!line.contains('\n'));
        assert_eq!(parse_ok(&line), key, "{input:?}");
        assert_eq!(parse_ok(&line).authorized_keys_line(), line);
    }
}

#[test]
fn errors_become_invalid_key_errors() {
    match crate::error::Error::from(SshKeyError::Dsa) {
        crate::error::Error::Invalid { field, reason } => {
            assert_eq!(field, "key");
            assert_eq!(reason, SshKeyError::Dsa.to_string());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_error_message_is_a_distinct_single_line() {
    let errors = [
        SshKeyError::Empty,
        SshKeyError::TooLong { len: 20_000 },
        SshKeyError::PrivateKey,
        SshKeyError::ForeignFormat,
        SshKeyError::ControlCharacter,
        SshKeyError::OptionsNotAllowed,
        SshKeyError::MissingKeyType,
        SshKeyError::Dsa,
        SshKeyError::RsaTooSmall { bits: 1024 },
        SshKeyError::RsaTooLarge { bits: 20_000 },
        SshKeyError::UnsupportedType("ssh-ed448".to_owned()),
        SshKeyError::MissingKeyData(KeyType::Ed25519),
        SshKeyError::InvalidBase64,
        SshKeyError::TypeMismatch {
            declared: KeyType::Rsa,
            inner: "ssh-ed25519".to_owned(),
        },
        malformed(KeyType::Ed25519, BlobProblem::Truncated),
    ];
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    for (i, msg) in messages.iter().enumerate() {
        assert!(
            !msg.is_empty() && !msg.chars().any(char::is_control),
            "{msg:?}"
        );
        assert!(!messages[..i].contains(msg), "duplicate: {msg}");
    }
}

/// xorshift64: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % u64::try_from(n.max(1)).expect("fits")).expect("fits")
    }
}

#[test]
fn mutated_input_never_panics_and_accepted_keys_round_trip() {
    let seeds = [
        ED25519.to_owned(),
        P256.to_owned(),
        P384.to_owned(),
        P521.to_owned(),
        RSA2048.to_owned(),
        RSA1024.to_owned(),
        DSA.to_owned(),
        sk_ed25519_line(),
        sk_ecdsa_line(),
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut accepted = 0;
    for i in 0..20_000 {
        let seed = seeds[rng.below(seeds.len())].as_bytes();
        let mut bytes = seed.to_vec();
        match i % 4 {
            // Flip a few bytes.
            0 => {
                for _ in 0..=rng.below(4) {
                    let at = rng.below(bytes.len());
                    bytes[at] ^= 1 << rng.below(8);
                }
            }
            // Truncate.
            1 => bytes.truncate(rng.below(bytes.len() + 1)),
            // Mutate the decoded blob and re-encode it under the same type.
            2 => {
                let text = String::from_utf8_lossy(seed).into_owned();
                let mut fields = text.split(' ');
                let name = fields.next().unwrap_or_default();
                let mut blob = STANDARD
                    .decode(fields.next().unwrap_or_default())
                    .expect("seed");
                match rng.below(3) {
                    0 => {
                        let at = rng.below(blob.len());
                        blob[at] = u8::try_from(rng.below(256)).expect("byte");
                    }
                    1 => blob.truncate(rng.below(blob.len() + 1)),
                    _ => blob.insert(rng.below(blob.len() + 1), 0xff),
                }
                bytes = line(name, &blob, "x").into_bytes();
            }
            // Random bytes, base64-encoded behind a valid type name.
            _ => {
                let name = KeyType::ALL[rng.below(KeyType::ALL.len())].as_str();
                let mut blob: Vec<u8> = (0..rng.below(200))
                    .map(|_| u8::try_from(rng.below(256)).expect("byte"))
                    .collect();
                if rng.below(2) == 0 {
                    let mut framed = wire(&[name.as_bytes()]);
                    framed.append(&mut blob);
                    blob = framed;
                }
                bytes = line(name, &blob, "").into_bytes();
            }
        }
        let input = String::from_utf8_lossy(&bytes);
        match SshPublicKey::parse(&input) {
            Ok(key) => {
                accepted += 1;
                assert_eq!(parse_ok(&key.authorized_keys_line()), key);
            }
            Err(e) => assert!(!e.to_string().chars().any(char::is_control)),
        }
    }
    assert!(accepted > 0, "some mutations (e.g. of comments) stay valid");
}
