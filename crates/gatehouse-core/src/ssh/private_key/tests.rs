//! Private key reading, against key files `ssh-keygen` (OpenSSH 9.2) wrote into
//! `testdata/` in every format: see `testdata/fingerprints.txt` for what
//! `ssh-keygen -l` says of each.

use super::*;

const PASS: &str = "correct horse fixture";

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("testdata/", $name)),
            include_str!(concat!("testdata/", $name, ".pub")),
        )
    };
}

/// (name, private key file, .pub file) for every key that must be accepted, and
/// whether it needs the passphrase.
fn accepted() -> Vec<((&'static str, &'static str, &'static str), bool)> {
    vec![
        (fixture!("ed25519"), false),
        (fixture!("ed25519_pass"), true),
        (fixture!("ecdsa256"), false),
        (fixture!("ecdsa384"), false),
        (fixture!("ecdsa521"), false),
        (fixture!("rsa2048"), false),
        (fixture!("rsa3072"), false),
        (fixture!("rsa2048_pem"), false),
        (fixture!("rsa2048_pem_pass"), true),
        (fixture!("rsa2048_pkcs8"), false),
        (fixture!("rsa2048_pkcs8_pass"), true),
        (fixture!("ecdsa256_pem"), false),
        (fixture!("ecdsa384_pkcs8"), false),
        (fixture!("ecdsa256_pkcs8_pass"), true),
        // Scalars of 31 bytes, which OpenSSH writes for about one P-256 key in 512.
        (fixture!("ecdsa256_short"), false),
        (fixture!("ecdsa256_short_pass"), true),
        (fixture!("ecdsa256_short_gcm_pass"), true),
    ]
}

/// `ssh-keygen -l`'s bits and fingerprint for a fixture.
fn keygen_l(name: &str) -> (u32, String) {
    let line = include_str!("testdata/fingerprints.txt")
        .lines()
        .find(|l| l.split(' ').next() == Some(name))
        .expect("fixture listed");
    let mut parts = line.split(' ').skip(1);
    let bits = parts.next().expect("bits").parse().expect("number");
    (bits, parts.next().expect("fingerprint").to_owned())
}

/// The `<type> <base64>` of a `.pub` file, without its comment.
fn pub_line(pub_file: &str) -> String {
    pub_file.split(' ').take(2).collect::<Vec<_>>().join(" ")
}

fn refused(input: &str, passphrase: Option<&str>) -> SshPrivateKeyError {
    SshPrivateKey::parse(input, passphrase).expect_err("refused")
}

#[test]
fn every_accepted_format_gives_ssh_keygens_fingerprint_and_public_key() {
    for ((name, private, public), needs_pass) in accepted() {
        let pass = needs_pass.then_some(PASS);
        let key = SshPrivateKey::parse(private, pass).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (bits, fingerprint) = keygen_l(name);
        assert_eq!(key.fingerprint(), fingerprint, "{name}");
        assert_eq!(key.bits(), bits, "{name}");
        assert_eq!(key.public_key(), pub_line(public), "{name}");
        assert_eq!(
            key.key_type().as_str(),
            public.split(' ').next().expect("type")
        );
    }
}

#[test]
fn the_stored_form_is_an_unencrypted_openssh_key_of_the_same_key() {
    for ((name, private, _), needs_pass) in accepted() {
        let key = SshPrivateKey::parse(private, needs_pass.then_some(PASS)).expect(name);
        let stored = key.expose_openssh();
        assert!(
            stored.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"),
            "{name}"
        );
        let again = SshPrivateKey::parse(stored, None).expect("re-reads without a passphrase");
        assert_eq!(again.fingerprint(), key.fingerprint(), "{name}");
        let reread = PrivateKey::from_openssh(stored).expect("openssh");
        assert!(!reread.is_encrypted(), "{name}");
    }
}

#[test]
fn crlf_missing_newline_and_surrounding_whitespace_are_tolerated() {
    let (_, private, _) = fixture!("ed25519");
    let want = SshPrivateKey::parse(private, None).expect("plain");
    let variants = [
        private.replace('\n', "\r\n"),
        private.trim_end().to_owned(),
        format!("\n\n   {}  \n\n", private),
        private
            .lines()
            .map(|l| format!("  {l}\t"))
            .collect::<Vec<_>>()
            .join("\r\n"),
    ];
    for v in &variants {
        let got = SshPrivateKey::parse(v, None).expect("tolerated");
        assert_eq!(got.fingerprint(), want.fingerprint());
    }
    let (_, pem, _) = fixture!("rsa2048_pem_pass");
    assert!(SshPrivateKey::parse(&pem.replace('\n', "\r\n"), Some(PASS)).is_ok());
}

#[test]
fn an_encrypted_key_without_a_passphrase_asks_for_one_in_the_passphrase_field() {
    for ((name, private, _), needs_pass) in accepted() {
        if !needs_pass {
            continue;
        }
        for pass in [None, Some("")] {
            let e = refused(private, pass);
            assert_eq!(e, SshPrivateKeyError::PassphraseNeeded, "{name}");
            assert_eq!(e.field(), "passphrase");
            assert!(e.to_string().contains("passphrase"));
        }
    }
}

#[test]
fn a_wrong_passphrase_is_refused_in_the_passphrase_field() {
    for ((name, private, _), needs_pass) in accepted() {
        if !needs_pass {
            continue;
        }
        let e = refused(private, Some("not the passphrase"));
        assert_eq!(e, SshPrivateKeyError::WrongPassphrase, "{name}");
        assert_eq!(e.field(), "passphrase");
    }
}

#[test]
fn a_passphrase_given_for_an_unencrypted_key_is_ignored() {
    let (_, private, _) = fixture!("ecdsa256");
    assert!(SshPrivateKey::parse(private, Some("anything")).is_ok());
}

#[test]
fn dsa_and_short_rsa_are_refused_in_every_format() {
    let (_, dsa, _) = fixture!("dsa");
    assert_eq!(refused(dsa, None), SshPrivateKeyError::Dsa);
    let dsa_pem =
        "-----BEGIN DSA PRIVATE KEY-----\nMIIBuwIBAAKBgQ==\n-----END DSA PRIVATE KEY-----\n";
    assert_eq!(refused(dsa_pem, None), SshPrivateKeyError::Dsa);
    for (_, private, _) in [fixture!("rsa1024"), fixture!("rsa1024_pem")] {
        let e = refused(private, None);
        assert_eq!(e, SshPrivateKeyError::RsaTooSmall { bits: 1024 });
        assert_eq!(e.field(), "private_key");
        assert!(e.to_string().contains("at least 2048"));
    }
}

#[test]
fn the_type_of_an_encrypted_openssh_key_is_refused_before_asking_for_a_passphrase() {
    let encrypted = include_str!("testdata/rsa1024_pass");
    assert_eq!(
        refused(encrypted, None),
        SshPrivateKeyError::RsaTooSmall { bits: 1024 }
    );
}

#[test]
fn a_passphrase_protection_asking_for_too_many_rounds_is_refused_before_any_work() {
    // ssh-keygen -a 1001: one round over the limit.
    let slow = include_str!("testdata/ed25519_slow_kdf");
    for passphrase in [None, Some("slow passphrase")] {
        let e = refused(slow, passphrase);
        assert_eq!(e, SshPrivateKeyError::KdfTooSlow { rounds: 1001 });
        assert_eq!(e.field(), "private_key");
        assert!(e.to_string().contains("ssh-keygen -p -a 100"), "{e}");
    }
}

#[test]
fn public_keys_and_certificates_pasted_here_are_named_as_such() {
    let (_, _, public) = fixture!("ed25519");
    let e = refused(public, None);
    assert_eq!(e, SshPrivateKeyError::PublicKey);
    assert_eq!(
        e.to_string(),
        "this is a public key; paste the private key file, e.g. ~/.ssh/id_ed25519"
    );
    assert_eq!(
        refused(&format!("no-pty {public}"), None),
        SshPrivateKeyError::PublicKey
    );
    let ssh2 = "---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n---- END SSH2 PUBLIC KEY ----\n";
    assert_eq!(refused(ssh2, None), SshPrivateKeyError::PublicKey);
    let pem = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n";
    assert_eq!(refused(pem, None), SshPrivateKeyError::PublicKey);
    let cert = include_str!("testdata/ed25519-cert.pub");
    assert_eq!(refused(cert, None), SshPrivateKeyError::Certificate);
}

#[test]
fn truncated_altered_and_junk_input_is_refused_as_damaged_or_not_a_key() {
    let (_, private, _) = fixture!("ed25519");
    let lines: Vec<&str> = private.lines().collect();
    let cut = lines[..lines.len() - 2].join("\n");
    assert_eq!(refused(&cut, None), SshPrivateKeyError::Damaged);
    let no_body = format!("{}\n{}\n", lines[0], lines[lines.len() - 1]);
    assert_eq!(refused(&no_body, None), SshPrivateKeyError::Damaged);
    let altered = private.replacen(&lines[2][..8], "AAAAAAAA", 1);
    assert_eq!(refused(&altered, None), SshPrivateKeyError::Damaged);
    let (_, pem, _) = fixture!("rsa2048_pkcs8");
    let pem_lines: Vec<&str> = pem.lines().collect();
    let pem_cut = [&pem_lines[..5], &pem_lines[pem_lines.len() - 1..]]
        .concat()
        .join("\n");
    assert_eq!(refused(&pem_cut, None), SshPrivateKeyError::Damaged);
    let not_base64 = "-----BEGIN OPENSSH PRIVATE KEY-----\n!!!!\n-----END OPENSSH PRIVATE KEY-----";
    assert_eq!(refused(not_base64, None), SshPrivateKeyError::Damaged);
    for junk in [
        "hello",
        "{\"key\": 1}",
        "-----BEGIN CERTIFICATE-----\nMII=\n-----END CERTIFICATE-----",
    ] {
        assert_eq!(refused(junk, None), SshPrivateKeyError::NotAKey, "{junk}");
    }
    assert_eq!(
        refused("PuTTY-User-Key-File-3: ssh-ed25519\n", None),
        SshPrivateKeyError::Putty
    );
    for blank in ["", "  \r\n\t "] {
        assert_eq!(refused(blank, None), SshPrivateKeyError::Empty);
    }
}

#[test]
fn input_over_16_kib_is_refused_before_it_is_read() {
    let (_, private, _) = fixture!("ed25519");
    let big = format!("{private}{}", " ".repeat(MAX_INPUT_LEN));
    assert!(matches!(
        refused(&big, None),
        SshPrivateKeyError::TooLong { .. }
    ));
    let exact = format!("{private}{}", " ".repeat(MAX_INPUT_LEN - private.len()));
    assert!(SshPrivateKey::parse(&exact, None).is_ok());
    let long_pass = "x".repeat(MAX_PASSPHRASE_LEN + 1);
    assert_eq!(
        refused(private, Some(&long_pass)),
        SshPrivateKeyError::PassphraseTooLong
    );
}

#[test]
fn legacy_encrypted_ec_pem_is_refused_with_a_way_to_convert_it() {
    let (_, private, _) = fixture!("ecdsa521_pem_pass");
    let e = refused(private, Some(PASS));
    assert_eq!(e, SshPrivateKeyError::UnsupportedEncryption);
    assert!(e.to_string().contains("ssh-keygen -p"));
}

#[test]
fn messages_never_repeat_the_key_or_the_passphrase_and_debug_is_redacted() {
    let (_, private, _) = fixture!("ed25519_pass");
    let body = private.lines().nth(1).expect("body line");
    for e in [
        refused(private, None),
        refused(private, Some("a wrong secret phrase")),
    ] {
        let text = format!("{e} {e:?}");
        assert!(
            !text.contains(body) && !text.contains("a wrong secret phrase"),
            "{text}"
        );
    }
    let key = SshPrivateKey::parse(private, Some(PASS)).expect("key");
    let debug = format!("{key:?}");
    assert!(
        debug.contains("[redacted]") && !debug.contains("PRIVATE KEY"),
        "{debug}"
    );
    let stored_body = key
        .expose_openssh()
        .lines()
        .nth(1)
        .expect("line")
        .to_owned();
    assert!(!debug.contains(&stored_body));
}

#[test]
fn errors_become_validation_errors_naming_their_field() {
    let e: crate::Error = SshPrivateKeyError::PassphraseNeeded.into();
    assert!(matches!(
        e,
        crate::Error::Invalid {
            field: "passphrase",
            ..
        }
    ));
    let e: crate::Error = SshPrivateKeyError::Dsa.into();
    assert!(matches!(
        e,
        crate::Error::Invalid {
            field: "private_key",
            ..
        }
    ));
}

#[test]
fn seal_contexts_bind_the_owner_and_the_key() {
    use crate::ids::{AccountId, SshPrivateKeyId};
    let a = seal_context(&AccountId("usr_a".into()), &SshPrivateKeyId("spk_1".into()));
    assert_eq!(a, "ssh-private-key:usr_a:spk_1");
    let b = seal_context(&AccountId("usr_b".into()), &SshPrivateKeyId("spk_1".into()));
    assert_ne!(a, b);
}
