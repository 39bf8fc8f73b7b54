//! Feeds arbitrary UTF-8 to the OpenSSH public key parser: it must never panic, and any
//! key it accepts must survive a round trip through its `authorized_keys` line.
//!
//! Run with `cargo fuzz run ssh_public_key` from the repository root.

#![no_main]

use gatehouse_core::ssh::SshPublicKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    match SshPublicKey::parse(input) {
        Ok(key) => {
            let line = key.authorized_keys_line();
            assert!(!line.contains('\n'));
            assert_eq!(SshPublicKey::parse(&line).as_ref(), Ok(&key));
            assert!(key.fingerprint().starts_with("SHA256:"));
        }
        Err(err) => assert!(!err.to_string().is_empty()),
    }
});
